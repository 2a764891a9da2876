package devenv_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/devenv"
)

func TestLines(t *testing.T) {
	tests := []struct {
		name     string
		writes   []string
		want     string
		wantLast string
	}{
		{name: "whole lines", writes: []string{"one\ntwo\n"}, want: "svc      | one\nsvc      | two\n", wantLast: "two"},
		{name: "a line in pieces", writes: []string{"li", "sten: in", " use\nbye", "\n"},
			want: "svc      | listen: in use\nsvc      | bye\n", wantLast: "bye"},
		{name: "an unfinished last line", writes: []string{"one\ncut sh"},
			want: "svc      | one\nsvc      | cut sh\n", wantLast: "cut sh"},
		{name: "an empty line", writes: []string{"one\n\n"}, want: "svc      | one\nsvc      | \n", wantLast: ""},
		{name: "nothing", want: "", wantLast: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			lines := devenv.NewConsole(&out).Lines("svc")
			for _, w := range tt.writes {
				n, err := lines.Write([]byte(w))
				require.NoError(t, err)
				assert.Equal(t, len(w), n)
			}
			lines.Flush()
			assert.Equal(t, tt.want, out.String())
			assert.Equal(t, tt.wantLast, lines.Last())
		})
	}
}

// Two processes writing at once, a few bytes at a time, must not mix within a line.
func TestLinesDoNotMix(t *testing.T) {
	var out strings.Builder
	console := devenv.NewConsole(&out)
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b"} {
		lines := console.Lines(name)
		wg.Go(func() {
			for range 200 {
				for _, piece := range []string{name + name, name + name + name, "\n"} {
					_, _ = lines.Write([]byte(piece))
				}
			}
		})
	}
	wg.Wait()
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, got, 400)
	for _, line := range got {
		if line != "a        | aaaaa" && line != "b        | bbbbb" {
			t.Fatalf("got line %q, want one process's line whole", line)
		}
	}
}

// A child whose output cannot be written must still be able to write: os/exec would close its
// pipe at the first error, and its next line would kill it with SIGPIPE.
func TestLinesNeverFail(t *testing.T) {
	lines := devenv.NewConsole(failingWriter{}).Lines("svc")
	n, err := lines.Write([]byte("one\ntwo\n"))
	assert.NoError(t, err)
	assert.Equal(t, 8, n)
	assert.Equal(t, "two", lines.Last())
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }
