package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// kafka-go logs from inside its retry loops, some of which spin (its group reader rejoins at once,
// with no backoff, when a topic is missing: about a thousand lines a second). Each kind of line
// (kafka-go's format string) gets a burst of lineBurst, then one line per lineEvery; the lines in
// between are dropped and counted, and the next line of that kind that gets through carries the
// count as "suppressed".
const (
	lineBurst = 3
	lineEvery = 10 * time.Second
	// maxLineKinds bounds the limiter's memory. kafka-go's format strings are constants, so this
	// is never reached in practice; past it, new kinds share one bucket.
	maxLineKinds = 256
)

// lineLimiter is a token bucket per kind of line.
type lineLimiter struct {
	mu    sync.Mutex
	now   func() time.Time
	kinds map[string]*lineBucket
}

type lineBucket struct {
	tokens     float64
	last       time.Time
	suppressed int
}

func newLineLimiter(now func() time.Time) *lineLimiter {
	return &lineLimiter{now: now, kinds: map[string]*lineBucket{}}
}

// allow reports whether a line of this kind may be written now and, if so, how many lines of the
// kind were dropped since the last one written.
func (l *lineLimiter) allow(kind string) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.kinds[kind]
	if !ok {
		if len(l.kinds) >= maxLineKinds {
			kind = ""
			b, ok = l.kinds[kind]
		}
		if !ok {
			b = &lineBucket{tokens: lineBurst, last: now}
			l.kinds[kind] = b
		}
	}
	b.tokens = min(lineBurst, b.tokens+float64(now.Sub(b.last))/float64(lineEvery))
	b.last = now
	if b.tokens < 1 {
		b.suppressed++
		return false, 0
	}
	b.tokens--
	n := b.suppressed
	b.suppressed = 0
	return true, n
}

// kafkaLogger adapts l to kafka-go's Logger at the level, through the limiter.
func kafkaLogger(l *slog.Logger, level slog.Level, limit *lineLimiter) kafka.LoggerFunc {
	return func(format string, args ...any) {
		if l == nil || !l.Enabled(context.Background(), level) {
			return
		}
		ok, suppressed := limit.allow(format)
		if !ok {
			return
		}
		attrs := []slog.Attr{slog.String("component", "kafka-go")}
		if suppressed > 0 {
			attrs = append(attrs, slog.Int("suppressed", suppressed))
		}
		l.LogAttrs(context.Background(), level, fmt.Sprintf(format, args...), attrs...)
	}
}
