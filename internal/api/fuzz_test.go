package api

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/problem"
)

// FuzzDecodeRequest feeds parseProfile arbitrary bodies. Whatever it accepts must keep every
// rule of the API, and survive a round trip; whatever it refuses must be a 400 naming what is
// wrong. The seeds in testdata/fuzz/FuzzDecodeRequest run with every `go test`; `make fuzz`
// explores from them.
func FuzzDecodeRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseProfile(body)
		if err != nil {
			var e *problem.Error
			require.True(t, errors.As(err, &e), "got %T, want *problem.Error", err)
			assert.Equal(t, problem.Invalid, e.Kind)
			assert.NotEmpty(t, e.Detail)
			for _, f := range e.Fields {
				assert.NotEmpty(t, f.Detail, "field %q", f.Field)
			}
			return
		}
		assert.True(t, utf8.Valid(body), "accepted invalid UTF-8")
		assert.Regexp(t, `^[A-Za-z0-9\-.]{1,64}$`, req.PatientID)
		assert.True(t, req.Sex == "" || slices.Contains(sexCodes, req.Sex), "Sex %q", req.Sex)
		for _, name := range []string{req.FirstName, req.LastName} {
			assert.LessOrEqual(t, utf8.RuneCountInString(name), maxNameRunes)
			assert.False(t, strings.ContainsFunc(name, unicode.IsControl), "control character in %q", name)
		}

		// What was accepted, written out again, is accepted as the same request.
		again, err := json.Marshal(map[string]any{"PatientId": req.PatientID, "FirstName": req.FirstName,
			"LastName": req.LastName, "IsPregnant": req.IsPregnant, "Sex": nilIfEmpty(req.Sex)})
		require.NoError(t, err)
		got, err := parseProfile(again)
		require.NoError(t, err, "%s", again)
		assert.Equal(t, req, got)
	})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
