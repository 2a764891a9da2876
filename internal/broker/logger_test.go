package broker

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kafka-go's group reader logs about a thousand lines a second while a topic is missing. What
// reaches the log must stay at a few lines a second whatever it does, and say how much it left
// out.
func TestKafkaLoggerLimitsEachKindOfLine(t *testing.T) {
	now := time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	limit := newLineLimiter(func() time.Time { return now })
	warn := kafkaLogger(logger, slog.LevelWarn, limit)
	debug := kafkaLogger(logger, slog.LevelDebug, limit)

	lines := func() []map[string]any {
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &m))
			out = append(out, m)
		}
		buf.Reset()
		return out
	}

	// A spin: 11 seconds at 1000 lines a second of one kind, and a few of another.
	for i := range 11_000 {
		now = now.Add(time.Millisecond)
		warn.Printf("Problem getting partitions during startup, %v\n, Returning and setting up nextGeneration", "[3] Unknown Topic Or Partition")
		if i%1000 == 0 {
			warn.Printf("Failed to join group %s: %v", "consultation", "EOF")
		}
		debug.Printf("joined group %s", "consultation") // below the level: neither written nor counted
	}
	got := lines()
	byKind := map[bool][]map[string]any{}
	for _, l := range got {
		spin := strings.HasPrefix(l["msg"].(string), "Problem getting partitions")
		byKind[spin] = append(byKind[spin], l)
	}
	// A burst of 3, then one per 10 s: the spin's 11,000 lines become 4.
	require.Len(t, byKind[true], 4)
	assert.Equal(t, "kafka-go", byKind[true][0]["component"])
	assert.Nil(t, byKind[true][0]["suppressed"])
	assert.InDelta(t, 10_000, byKind[true][3]["suppressed"], 5, "the line after the gap counts the lines left out")
	// The other kind has buckets of its own: the spin does not starve it.
	assert.Len(t, byKind[false], 4)
	assert.LessOrEqual(t, len(got), 10, "lines in 11 s")

	// Quiet for a while, the burst is available again.
	now = now.Add(time.Minute)
	for range 5 {
		warn.Printf("Problem getting partitions during startup, %v\n, Returning and setting up nextGeneration", "x")
	}
	assert.Len(t, lines(), 3)
}

func TestLineLimiterBoundsItsMemory(t *testing.T) {
	limit := newLineLimiter(time.Now)
	for i := range 2 * maxLineKinds {
		limit.allow(strings.Repeat("x", i))
	}
	assert.LessOrEqual(t, len(limit.kinds), maxLineKinds+1)
}
