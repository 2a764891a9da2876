// Package profile holds the patient.profile.updated event, the contract between the Profile
// service that publishes it and every service that keeps a replica of it, and the ordering rule
// that decides which of two events is newer.
package profile

import (
	"errors"
	"fmt"
	"time"

	"github.com/ankitamadan/patient-profile/internal/jsonobject"
)

// Event is one patient.profile.updated message value. Its JSON form is documented in the README
// and other producers publish it too, so field names and types must not change.
type Event struct {
	EventID    string
	PatientID  string
	FirstName  string
	LastName   string
	IsPregnant bool
	Sex        string
	// UpdatedAt is the event's stamp, which the ordering rule compares: when the profile was
	// updated, or, for a deletion, when it was erased.
	UpdatedAt time.Time
	// Deleted marks a deletion (the patient asked to be forgotten): the profile fields are empty
	// and the replica keeps only a tombstone, which an older event cannot overwrite.
	Deleted bool
}

// wireEvent is Event as MarshalJSON writes it (by hand, in AppendJSON; the tests compare the
// two). Decode does not use it: encoding/json matches names case-insensitively and lets a
// repeated name win silently, and the contract allows neither.
type wireEvent struct {
	EventID    string `json:"EventId"`
	PatientID  string `json:"PatientId"`
	FirstName  string `json:"FirstName"`
	LastName   string `json:"LastName"`
	IsPregnant bool   `json:"IsPregnant"`
	Sex        string `json:"Sex"`
	UpdatedAt  string `json:"UpdatedAt"`
}

// wireDeletion is the deletion form, as AppendJSON writes it: the stamp is DeletedAt, and there is no UpdatedAt and no
// profile field. A consumer that predates it finds no UpdatedAt and dead-letters it, as every
// version of this one does, instead of applying it as an update with empty fields.
type wireDeletion struct {
	EventID   string `json:"EventId"`
	PatientID string `json:"PatientId"`
	DeletedAt string `json:"DeletedAt"`
}

// MarshalJSON writes the contract form, with the stamp in UTC at nanosecond precision.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 192)), nil
}

// Decode parses and validates a message value. Any error means the message can never be applied,
// however often it is retried.
//
// The contract is exact, as a consumer in any other language reads it: field names match
// case-sensitively, and a name that differs from a contract name only by case ("patientid") is
// refused rather than read as that field or ignored. A name that appears twice at the top level
// is refused, since which value wins depends on the parser. Other names are ignored, so that
// producers can add fields without breaking this consumer. Invalid UTF-8 in a string is read as
// U+FFFD, as encoding/json (and so every consumer so far) reads it.
func Decode(value []byte) (Event, error) {
	var raw [numFields][]byte
	if _, err := eventObject.Read(value, raw[:]); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	var e Event
	var updatedAt, deletedAt string
	var err error
	for _, s := range [...]struct {
		field int
		dst   *string
	}{
		{fieldEventID, &e.EventID}, {fieldPatientID, &e.PatientID}, {fieldFirstName, &e.FirstName},
		{fieldLastName, &e.LastName}, {fieldSex, &e.Sex}, {fieldUpdatedAt, &updatedAt}, {fieldDeletedAt, &deletedAt},
	} {
		if *s.dst, err = jsonobject.OptionalString(raw[s.field]); err != nil {
			return Event{}, fmt.Errorf("decode event: %s: %w", fieldNames[s.field], err)
		}
	}
	if e.IsPregnant, err = jsonobject.OptionalBool(raw[fieldIsPregnant]); err != nil {
		return Event{}, fmt.Errorf("decode event: %s: %w", fieldNames[fieldIsPregnant], err)
	}
	if e.PatientID == "" {
		return Event{}, errors.New("decode event: PatientId: missing or empty")
	}
	if raw[fieldDeletedAt] != nil {
		return decodeDeletion(e, raw, deletedAt)
	}
	if updatedAt == "" {
		return Event{}, errors.New("decode event: UpdatedAt: missing or empty")
	}
	if e.UpdatedAt, err = ParseTime(updatedAt); err != nil {
		return Event{}, fmt.Errorf("decode event: UpdatedAt: %w", err)
	}
	return e, nil
}

// decodeDeletion finishes the deletion form: a stamp (DeletedAt) and nothing about the patient
// but the id, so that an erasure can never carry, or be mistaken for, profile data.
func decodeDeletion(e Event, raw [numFields][]byte, deletedAt string) (Event, error) {
	for _, f := range [...]int{fieldUpdatedAt, fieldFirstName, fieldLastName, fieldIsPregnant, fieldSex} {
		if raw[f] != nil {
			return Event{}, fmt.Errorf("decode event: %s: a deletion (DeletedAt) carries no %s",
				fieldNames[f], fieldNames[f])
		}
	}
	if deletedAt == "" {
		return Event{}, errors.New("decode event: DeletedAt: empty")
	}
	t, err := ParseTime(deletedAt)
	if err != nil {
		return Event{}, fmt.Errorf("decode event: DeletedAt: %w", err)
	}
	e.UpdatedAt, e.Deleted = t, true
	return e, nil
}

// The contract's fields, as indexes into fieldNames.
const (
	fieldEventID = iota
	fieldPatientID
	fieldFirstName
	fieldLastName
	fieldIsPregnant
	fieldSex
	fieldUpdatedAt
	fieldDeletedAt
	numFields
)

var fieldNames = [numFields]string{
	"EventId", "PatientId", "FirstName", "LastName", "IsPregnant", "Sex", "UpdatedAt", "DeletedAt",
}

// eventObject reads an event's top-level object: the contract's names exactly, and the others
// (ignored here) only checked for repeats.
var eventObject = &jsonobject.Reader{Names: fieldNames[:], ReplaceInvalidUTF8: true}

// ParseTime parses an RFC 3339 timestamp with any UTC offset and any fraction width, and returns
// it in UTC. OrderKey relies on a four-digit year in UTC to be fixed-width, so the year must be
// 0001-9999. The rule is said on the timestamp as written, so that the event's JSON Schema can say
// it with a pattern too: the year as written is 0001-9999, and on the first day of that range the
// offset may not be positive, nor on its last day negative (either could move the instant out of
// the range in UTC; whether it does would take arithmetic a pattern cannot do).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !rfc3339(s) {
		return time.Time{}, fmt.Errorf("not an RFC 3339 timestamp: %q", s)
	}
	y, m, d := t.Date()
	_, offset := t.Zone()
	switch {
	case y < 1 || y > 9999:
		return time.Time{}, fmt.Errorf("year %d is outside 0001-9999", y)
	case y == 1 && m == time.January && d == 1 && offset > 0:
		return time.Time{}, errors.New("0001-01-01 with a positive offset may fall outside 0001-9999 in UTC")
	case y == 9999 && m == time.December && d == 31 && offset < 0:
		return time.Time{}, errors.New("9999-12-31 with a negative offset may fall outside 0001-9999 in UTC")
	}
	return t.UTC(), nil
}

// rfc3339 reports whether s has RFC 3339's date-time shape, as the event's JSON Schema writes it:
// YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 9 digits, then Z or ±HH:MM, with hours
// 00-23, minutes and seconds 00-59. time.Parse is laxer (a one-digit hour, a comma before the
// fraction, offsets such as +24:00 or +23:60): it is left to check the calendar.
func rfc3339(s string) bool {
	const fixed = len("2006-01-02T15:04:05")
	if len(s) < fixed+1 {
		return false
	}
	for i, c := range []byte(s[:fixed]) {
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	if s[11:13] > "23" || s[14:16] > "59" || s[17:19] > "59" {
		return false
	}
	rest := s[fixed:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && n <= 10 && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 {
			return false
		}
		rest = rest[n:]
	}
	if rest == "Z" {
		return true
	}
	return len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		isDigits(rest[1:3]) && isDigits(rest[4:6]) && rest[1:3] <= "23" && rest[4:6] <= "59"
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
