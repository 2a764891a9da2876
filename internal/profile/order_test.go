package profile_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

func event(t *testing.T, updatedAt, eventID string) profile.Event {
	t.Helper()
	ts, err := profile.ParseTime(updatedAt)
	require.NoError(t, err)
	return profile.Event{PatientID: "1", UpdatedAt: ts, EventID: eventID}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		a, b [2]string // UpdatedAt, EventId
		want int
	}{
		{"offset +10:00 is an earlier instant than its wall clock suggests",
			[2]string{"2026-01-02T15:00:00.5+10:00", "a"}, [2]string{"2026-01-02T05:00:01Z", "a"}, -1},
		{"wider fraction is not later: .1 beats .05",
			[2]string{"2026-01-02T05:00:01.1Z", "a"}, [2]string{"2026-01-02T05:00:01.05Z", "a"}, 1},
		{"trailing zeros do not matter",
			[2]string{"2026-01-02T05:00:01.500000000Z", "a"}, [2]string{"2026-01-02T05:00:01.5Z", "a"}, 0},
		{"no fraction is earlier than any fraction",
			[2]string{"2026-01-02T05:00:00Z", "a"}, [2]string{"2026-01-02T05:00:00.000000001Z", "a"}, -1},
		{"same instant in different offsets, same id, is a duplicate",
			[2]string{"2026-01-02T15:00:00.25+10:00", "e1"}, [2]string{"2026-01-02T05:00:00.25Z", "e1"}, 0},
		{"negative offset crossing midnight",
			[2]string{"2026-01-01T23:30:00-06:00", "a"}, [2]string{"2026-01-02T05:00:00Z", "a"}, 1},
		{"equal instants break ties on EventId",
			[2]string{"2026-01-02T05:00:00Z", "b"}, [2]string{"2026-01-02T05:00:00Z", "a"}, 1},
		{"equal instants, absent EventId loses",
			[2]string{"2026-01-02T05:00:00Z", ""}, [2]string{"2026-01-02T05:00:00Z", "a"}, -1},
		{"EventId prefix sorts first",
			[2]string{"2026-01-02T05:00:00Z", "a"}, [2]string{"2026-01-02T05:00:00Z", "ab"}, -1},
		{"exact duplicate",
			[2]string{"2026-01-02T05:00:00.123Z", "x"}, [2]string{"2026-01-02T05:00:00.123Z", "x"}, 0},
		{"the timestamp wins over the EventId",
			[2]string{"2026-01-02T05:00:00.000000001Z", "a"}, [2]string{"2026-01-02T05:00:00Z", "zzzz"}, 1},
		{"years far apart",
			[2]string{"0001-01-01T00:00:00Z", "z"}, [2]string{"9999-12-31T23:59:59.999999999Z", "a"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := event(t, tt.a[0], tt.a[1])
			b := event(t, tt.b[0], tt.b[1])

			assert.Equal(t, tt.want, profile.Compare(a, b), "Compare(a, b)")
			assert.Equal(t, -tt.want, profile.Compare(b, a), "Compare(b, a)")
			// The store enforces the rule through OrderKey, so it must agree with Compare.
			assert.Equal(t, tt.want, strings.Compare(a.OrderKey(), b.OrderKey()), "OrderKey order: %q vs %q", a.OrderKey(), b.OrderKey())
		})
	}
}

func TestOrderKeyIsFixedWidthBeforeEventID(t *testing.T) {
	for _, ts := range []string{"2026-01-02T05:00:00Z", "2026-01-02T05:00:00.1Z", "2026-01-02T15:00:00.123456789+10:00"} {
		t.Run(ts, func(t *testing.T) {
			k := event(t, ts, "").OrderKey()
			assert.Len(t, k, len("2026-01-02T05:00:00.000000000Z#"), "key %q", k)
		})
	}
}
