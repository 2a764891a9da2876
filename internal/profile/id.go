package profile

// maxPatientID is FHIR's bound on a resource id's length.
const maxPatientID = 64

// ValidPatientID reports whether id follows FHIR's rule for a resource id: 1 to 64 of A-Z, a-z,
// 0-9, '-' and '.'. The APIs hold the ids they are given to it; the event contract does not,
// since other producers publish to the topic too.
func ValidPatientID(id string) bool {
	if id == "" || len(id) > maxPatientID {
		return false
	}
	for i := range len(id) {
		switch c := id[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// PatientIDRule says ValidPatientID's rule, for an error answer.
const PatientIDRule = "must be 1 to 64 characters, each a letter A-Z or a-z, a digit, '-' or '.'"
