package logging_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/logging"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name  string
		attr  slog.Attr
		group string
		want  any
	}{
		{"a duration is a Go duration string", slog.Duration("duration", 5117357*time.Nanosecond), "", "5.117357ms"},
		{"in a group too", slog.Duration("timeout", 10*time.Second), "shutdown", "10s"},
		{"other values are left alone", slog.Int64("offset", 42), "", float64(42)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := logging.New(&buf, slog.LevelInfo)
			if tt.group != "" {
				l = l.WithGroup(tt.group)
			}
			l.Info("m", tt.attr)
			var got map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
			if tt.group != "" {
				got, _ = got[tt.group].(map[string]any)
			}
			assert.Equal(t, tt.want, got[tt.attr.Key])
		})
	}
}

func TestNewLevel(t *testing.T) {
	var buf bytes.Buffer
	logging.New(&buf, slog.LevelWarn).Info("dropped")
	assert.Empty(t, buf.String())
}
