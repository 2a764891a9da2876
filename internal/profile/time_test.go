package profile_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// The year rule is said on the timestamp as written, so that the JSON Schema's pattern can say
// the same: 0001-9999 as written, and no offset that could carry the first or last day out of
// that range in UTC.
func TestParseTimeYearRange(t *testing.T) {
	tests := []struct {
		value   string
		want    time.Time
		refused bool
	}{
		{"0001-01-01T00:00:00Z", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"0001-01-01T00:00:00+00:00", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"0001-01-01T00:00:00-05:00", time.Date(1, 1, 1, 5, 0, 0, 0, time.UTC), false},
		{"0001-01-02T00:30:00+01:00", time.Date(1, 1, 1, 23, 30, 0, 0, time.UTC), false},
		{"9999-12-31T23:59:59.999999999Z", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), false},
		{"9999-12-31T23:00:00+05:00", time.Date(9999, 12, 31, 18, 0, 0, 0, time.UTC), false},
		{"9999-12-30T23:30:00-00:30", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), false},
		// Out of range in UTC.
		{"0001-01-01T00:30:00+01:00", time.Time{}, true},
		{"9999-12-31T23:30:00-01:00", time.Time{}, true},
		// In range in UTC, but refused by the rule as written.
		{"0001-01-01T05:00:00+01:00", time.Time{}, true},
		{"9999-12-31T00:00:00-01:00", time.Time{}, true},
		{"0000-12-31T23:00:00-05:00", time.Time{}, true},
		// Out of range as written.
		{"0000-01-01T00:00:00Z", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := profile.ParseTime(tt.value)
			if tt.refused {
				assert.ErrorContains(t, err, "outside 0001-9999")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, time.UTC, got.Location())
		})
	}
}
