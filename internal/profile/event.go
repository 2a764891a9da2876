// Package profile holds the patient.profile.updated event, the contract between the Profile
// service that publishes it and every service that keeps a replica of it, and the ordering rule
// that decides which of two events is newer.
package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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

// wireEvent is Event as MarshalJSON writes it (by hand, in AppendJSON; the tests compare the two). Decode does not use it: encoding/json matches names
// case-insensitively and lets a repeated name win silently, and the contract allows neither.
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
// producers can add fields without breaking this consumer.
func Decode(value []byte) (Event, error) {
	if !json.Valid(value) {
		return Event{}, fmt.Errorf("decode event: %w", syntaxError(value))
	}
	raw, err := members(value)
	if err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	var e Event
	var updatedAt, deletedAt string
	for _, s := range [...]struct {
		field int
		dst   *string
	}{
		{fieldEventID, &e.EventID}, {fieldPatientID, &e.PatientID}, {fieldFirstName, &e.FirstName},
		{fieldLastName, &e.LastName}, {fieldSex, &e.Sex}, {fieldUpdatedAt, &updatedAt}, {fieldDeletedAt, &deletedAt},
	} {
		if *s.dst, err = stringValue(raw[s.field]); err != nil {
			return Event{}, fmt.Errorf("decode event: %s: %w", fieldNames[s.field], err)
		}
	}
	if e.IsPregnant, err = boolValue(raw[fieldIsPregnant]); err != nil {
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
			return Event{}, fmt.Errorf("decode event: %s: a deletion (DeletedAt) carries no %s", fieldNames[f], fieldNames[f])
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

var fieldNames = [numFields]string{"EventId", "PatientId", "FirstName", "LastName", "IsPregnant", "Sex", "UpdatedAt", "DeletedAt"}

// members returns the raw value of each contract field in the top-level object of value, which
// must be valid JSON. It refuses duplicate names and names that match a contract name only when
// case is ignored. It walks the bytes itself rather than through json.Decoder.Token, which
// allocates for every token: this runs for every message the consumer reads.
func members(value []byte) ([numFields][]byte, error) {
	var raw [numFields][]byte
	i := skipSpace(value, 0)
	if value[i] != '{' {
		return raw, fmt.Errorf("must be a JSON object, got %s", kind(value[i:]))
	}
	i = skipSpace(value, i+1)
	var others map[string]struct{} // names outside the contract, only to find duplicates
	for value[i] != '}' {
		end, escaped := scanString(value, i)
		name := value[i+1 : end-1]
		if escaped {
			// "Patient\u0049d" is PatientId to every parser.
			var s string
			if err := json.Unmarshal(value[i:end], &s); err != nil {
				return raw, err
			}
			name = []byte(s)
		}
		i = skipSpace(value, skipSpace(value, end)+1) // past the colon
		valueEnd := skipValue(value, i)
		switch f := field(name); {
		case f >= 0 && raw[f] != nil:
			return raw, fmt.Errorf("field %s appears more than once", quoteName(name))
		case f >= 0:
			raw[f] = value[i:valueEnd]
		default:
			if f := foldedField(name); f >= 0 {
				return raw, fmt.Errorf("field %s: names are case-sensitive, the contract's is %q", quoteName(name), fieldNames[f])
			}
			if others == nil {
				others = map[string]struct{}{}
			}
			if _, dup := others[string(name)]; dup {
				return raw, fmt.Errorf("field %s appears more than once", quoteName(name))
			}
			others[string(name)] = struct{}{}
		}
		i = skipSpace(value, valueEnd)
		if value[i] == ',' {
			i = skipSpace(value, i+1)
		}
	}
	return raw, nil
}

func field(name []byte) int {
	for f, n := range fieldNames {
		if string(name) == n {
			return f
		}
	}
	return -1
}

// foldedField finds a contract name equal to name under Unicode case folding, as encoding/json
// matches names.
func foldedField(name []byte) int {
	for f, n := range fieldNames {
		if bytes.EqualFold(name, []byte(n)) {
			return f
		}
	}
	return -1
}

// quoteName quotes a field name for an error message, cut short: the message becomes a
// dead-letter header.
func quoteName(name []byte) string {
	const maxName = 64
	if len(name) > maxName {
		return strconv.Quote(string(name[:maxName])) + "..."
	}
	return strconv.Quote(string(name))
}

// The scanning helpers below assume valid JSON (Decode checks it first) and return the index
// just past what they skip.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString skips the string starting at b[i] == '"' and reports whether it holds escapes.
func scanString(b []byte, i int) (int, bool) {
	escaped := false
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i + 1, escaped
		}
	}
}

func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := scanString(b, i)
		return end
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i, _ = scanString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	default: // a number, true, false or null
		for i < len(b) && strings.IndexByte(",}] \t\n\r", b[i]) < 0 {
			i++
		}
		return i
	}
}

// stringValue decodes a string field; absent and null mean "".
func stringValue(raw []byte) (string, error) {
	switch {
	case raw == nil || string(raw) == "null":
		return "", nil
	case raw[0] != '"':
		return "", fmt.Errorf("must be a string, got %s", kind(raw))
	case bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw):
		return string(raw[1 : len(raw)-1]), nil
	}
	// Escapes, or invalid UTF-8 that encoding/json replaces with U+FFFD as it always has here.
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// boolValue decodes a boolean field; absent and null mean false.
func boolValue(raw []byte) (bool, error) {
	switch string(raw) {
	case "", "null", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, fmt.Errorf("must be a bool, got %s", kind(raw))
}

// kind names the type of a JSON value by its first byte, without echoing the value.
func kind(raw []byte) string {
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// syntaxError says what is wrong with a value that is not one JSON value.
func syntaxError(value []byte) error {
	dec := json.NewDecoder(bytes.NewReader(value))
	var v json.RawMessage
	switch err := dec.Decode(&v); {
	case errors.Is(err, io.EOF):
		return errors.New("empty value, want a JSON object")
	case err != nil:
		return err
	default:
		return errors.New("trailing data after the JSON object")
	}
}

// ParseTime parses an RFC 3339 timestamp with any UTC offset and any fraction width, and returns
// it in UTC. Years outside 0001-9999 (after moving to UTC) are refused, because OrderKey relies on
// a four-digit year to be fixed-width.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not an RFC 3339 timestamp: %q", s)
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("year %d in UTC is outside 0001-9999", y)
	}
	return t, nil
}
