// Package audit writes the line a read of patient data leaves, as health-data rules ask (HIPAA's
// audit controls): who read, which patient or which messages, through which view, and when (the
// log line's own time). It never carries a profile value, only ids and coordinates.
package audit

import (
	"context"
	"log/slog"
)

// Message is every audit line's message, so that one filter finds them all.
const Message = "audit"

// Log writes one audit line: who read (a token's fingerprint, "loopback", or "anonymous"), the
// view that showed the data, and what it showed, as attributes such as slog.String("patient_id",
// id) or slog.String("messages", "topic/3/100-149"). Attributes must never hold a profile value.
func Log(ctx context.Context, logger *slog.Logger, who, view string, what ...slog.Attr) {
	attrs := append([]slog.Attr{slog.Bool("audit", true), slog.String("who", who), slog.String("view", view)},
		what...)
	logger.LogAttrs(ctx, slog.LevelInfo, Message, attrs...)
}
