package profile_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// FuzzDecode checks Decode against a slow reference built on encoding/json: a value is refused
// for a repeated or case-variant name exactly when the reference finds one; otherwise Decode
// agrees with encoding/json on every field and on whether the event is valid. The seeds in
// testdata/fuzz/FuzzDecode include each way the contract can be broken.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"EventId":"e1","PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":false,"Sex":"Female","UpdatedAt":"2026-01-02T05:00:00.5Z"}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		got, err := profile.Decode(value)

		want, seen, problem := reference(value)
		if problem != "" {
			if err == nil || !strings.Contains(err.Error(), problem) {
				t.Fatalf("Decode(%q): got error %v, want one saying %q", value, err, problem)
			}
			return
		}
		if want == nil {
			if err == nil {
				t.Fatalf("Decode(%q) accepted what encoding/json refuses", value)
			}
			return
		}
		stamp := want.UpdatedAt
		valid := want.PatientID != "" && stamp != ""
		if seen["DeletedAt"] {
			// The deletion form: a stamp and nothing about the patient but the id.
			stamp = want.DeletedAt
			valid = want.PatientID != "" && stamp != "" && !seen["UpdatedAt"] && !seen["FirstName"] &&
				!seen["LastName"] && !seen["IsPregnant"] && !seen["Sex"]
		}
		var ts error
		if valid {
			_, ts = profile.ParseTime(stamp)
		}
		if (err == nil) != (valid && ts == nil) {
			t.Fatalf("Decode(%q): got error %v; encoding/json read %+v", value, err, *want)
		}
		if err != nil {
			return
		}
		if got.EventID != want.EventID || got.PatientID != want.PatientID || got.FirstName != want.FirstName ||
			got.LastName != want.LastName || got.IsPregnant != want.IsPregnant || got.Sex != want.Sex || got.Deleted != seen["DeletedAt"] {
			t.Fatalf("Decode(%q) = %+v, encoding/json read %+v", value, got, *want)
		}
		// What Decode accepts survives a round trip.
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		again, err := profile.Decode(b)
		if err != nil || profile.Compare(got, again) != 0 || again != got {
			t.Fatalf("round trip of %q: got %+v, %v", value, again, err)
		}
	})
}

type wire struct {
	EventID    string `json:"EventId"`
	PatientID  string `json:"PatientId"`
	FirstName  string
	LastName   string
	IsPregnant bool
	Sex        string
	UpdatedAt  string
	DeletedAt  string
}

// reference decodes value with encoding/json. problem names a contract breach it found in the
// top-level object's names; want is nil if encoding/json refuses the value.
func reference(value []byte) (want *wire, seen map[string]bool, problem string) {
	if !json.Valid(value) {
		return nil, nil, ""
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, ""
	}
	contract := []string{"EventId", "PatientId", "FirstName", "LastName", "IsPregnant", "Sex", "UpdatedAt", "DeletedAt"}
	seen = map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			panic(err) // json.Valid said it was valid
		}
		name := tok.(string)
		if seen[name] {
			return nil, nil, "appears more than once"
		}
		seen[name] = true
		for _, c := range contract {
			if name != c && strings.EqualFold(name, c) {
				return nil, nil, "names are case-sensitive"
			}
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			panic(err)
		}
	}
	var w wire
	if err := json.Unmarshal(value, &w); err != nil {
		return nil, nil, ""
	}
	return &w, seen, ""
}
