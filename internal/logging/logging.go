// Package logging builds the binaries' logger, so that both write the same JSON.
package logging

import (
	"io"
	"log/slog"

	"github.com/ankitamadan/patient-profile/internal/tracing"
)

// New returns a JSON logger to w at level. Durations are written as Go duration strings
// ("5.117357ms", "10s"), the form the configuration takes, instead of slog's integer
// nanoseconds.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationString}
	return slog.New(tracing.LogHandler(slog.NewJSONHandler(w, opts)))
}

func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
