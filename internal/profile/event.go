// Package profile holds the patient.profile.updated event, the contract between the Profile
// service that publishes it and every service that keeps a replica of it, and the ordering rule
// that decides which of two events is newer.
package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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
	UpdatedAt  time.Time
}

// wireEvent is Event as it travels. UpdatedAt stays a string so that a bad timestamp is reported
// as such rather than as a generic JSON error.
type wireEvent struct {
	EventID    string `json:"EventId"`
	PatientID  string `json:"PatientId"`
	FirstName  string `json:"FirstName"`
	LastName   string `json:"LastName"`
	IsPregnant bool   `json:"IsPregnant"`
	Sex        string `json:"Sex"`
	UpdatedAt  string `json:"UpdatedAt"`
}

// MarshalJSON writes the contract form, with UpdatedAt in UTC at nanosecond precision.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 192)), nil
}

// Decode parses and validates a message value. Any error means the message can never be applied,
// however often it is retried.
func Decode(value []byte) (Event, error) {
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(value))
	if err := dec.Decode(&w); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return Event{}, fmt.Errorf("decode event: %s: must be a %s, got %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if dec.More() {
		return Event{}, errors.New("decode event: trailing data after the JSON object")
	}
	e := Event{
		EventID:    w.EventID,
		PatientID:  w.PatientID,
		FirstName:  w.FirstName,
		LastName:   w.LastName,
		IsPregnant: w.IsPregnant,
		Sex:        w.Sex,
	}
	if e.PatientID == "" {
		return Event{}, errors.New("decode event: PatientId: missing or empty")
	}
	if w.UpdatedAt == "" {
		return Event{}, errors.New("decode event: UpdatedAt: missing or empty")
	}
	t, err := ParseTime(w.UpdatedAt)
	if err != nil {
		return Event{}, fmt.Errorf("decode event: UpdatedAt: %w", err)
	}
	e.UpdatedAt = t
	return e, nil
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
