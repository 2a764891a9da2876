package profile

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDecode feeds Decode arbitrary message values, as any producer of the topic could. It must
// never panic; what it accepts must have what the ordering rule needs (a PatientId, a UTC
// UpdatedAt in years 0001-9999, so a fixed-width OrderKey), and must survive a round trip
// through the producer's own encoding unchanged. The seeds in testdata/fuzz/FuzzDecode run with
// every `go test`; `make fuzz` explores from them.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, value []byte) {
		e, err := Decode(value)
		if err != nil {
			return
		}
		assert.NotEmpty(t, e.PatientID)
		assert.Equal(t, time.UTC, e.UpdatedAt.Location())
		assert.Len(t, e.OrderKey(), len(orderKeyTime)+1+len(e.EventID), "OrderKey %q is not fixed-width", e.OrderKey())

		encoded, err := json.Marshal(e)
		require.NoError(t, err)
		again, err := Decode(encoded)
		require.NoError(t, err, "%s", encoded)
		assert.True(t, e.UpdatedAt.Equal(again.UpdatedAt), "UpdatedAt %s came back as %s", e.UpdatedAt, again.UpdatedAt)
		assert.Equal(t, 0, Compare(e, again))
		again.UpdatedAt = e.UpdatedAt
		assert.Equal(t, e, again)
	})
}
