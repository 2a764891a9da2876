package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/replay"
)

func TestParseFlags(t *testing.T) {
	edit := filepath.Join(t.TempDir(), "fixed.json")
	require.NoError(t, os.WriteFile(edit, []byte("{\"PatientId\":\"42\"}\n"), 0o600))
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, c replay.Config)
		wantErr string
	}{
		{name: "no flags chooses everything", check: func(t *testing.T, c replay.Config) {
			assert.Equal(t, replay.All, c.Filter)
			assert.False(t, c.DryRun)
			assert.Nil(t, c.Edit)
		}},
		{name: "a dry run for a patient", args: []string{"-dry-run", "-patient", "42"}, check: func(t *testing.T, c replay.Config) {
			assert.True(t, c.DryRun)
			assert.Equal(t, "42", c.Filter.Patient)
		}},
		{name: "one source offset", args: []string{"-partition", "0", "-offset", "7"}, check: func(t *testing.T, c replay.Config) {
			assert.Equal(t, replay.Filter{Partition: 0, From: 7, To: 7}, c.Filter)
		}},
		{name: "a source range", args: []string{"-partition", "3", "-from", "10", "-to", "20"}, check: func(t *testing.T, c replay.Config) {
			assert.Equal(t, replay.Filter{Partition: 3, From: 10, To: 20}, c.Filter)
		}},
		{name: "error text is a substring, not a pattern", args: []string{"-error", "a.b"}, check: func(t *testing.T, c replay.Config) {
			assert.True(t, c.Filter.Error.MatchString("x a.b y"))
			assert.False(t, c.Filter.Error.MatchString("axb"))
		}},
		{name: "error regexp", args: []string{"-error-regexp", "^decode .*IsPregnant"}, check: func(t *testing.T, c replay.Config) {
			assert.True(t, c.Filter.Error.MatchString("decode event: IsPregnant: must be a bool"))
		}},
		{name: "an edit, without the editor's newline", args: []string{"-edit", edit}, check: func(t *testing.T, c replay.Config) {
			assert.Equal(t, `{"PatientId":"42"}`, string(c.Edit))
		}},
		{name: "offsets without a partition", args: []string{"-from", "3"}, wantErr: "needs a partition"},
		{name: "offset and a range", args: []string{"-partition", "1", "-offset", "3", "-to", "4"}, wantErr: "-offset"},
		{name: "both error filters", args: []string{"-error", "a", "-error-regexp", "b"}, wantErr: "give one"},
		{name: "a bad regexp", args: []string{"-error-regexp", "("}, wantErr: "-error-regexp"},
		{name: "a missing edit file", args: []string{"-edit", "/nonexistent"}, wantErr: "-edit"},
		{name: "stray arguments", args: []string{"42"}, wantErr: "unexpected arguments"},
		{name: "an unknown flag", args: []string{"-topic", "x"}, wantErr: "-topic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(append([]string{"replay-dlq"}, tt.args...), io.Discard)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}
