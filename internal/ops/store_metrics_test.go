package ops

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// scriptedWriter answers each Put with the next of its outcomes.
type scriptedWriter struct {
	outcomes []func() (bool, error)
}

func (s *scriptedWriter) Put(context.Context, profile.Event) (bool, error) {
	next := s.outcomes[0]
	s.outcomes = s.outcomes[1:]
	return next()
}

func TestStoreDurationByOutcome(t *testing.T) {
	applied := func() (bool, error) { return true, nil }
	stale := func() (bool, error) { return false, nil }
	failed := func() (bool, error) { return false, errors.New("throttled") }
	reg := prometheus.NewRegistry()
	w := MeasureStore(&scriptedWriter{outcomes: []func() (bool, error){applied, applied, stale, failed}}, reg)
	for range 4 {
		_, _ = w.Put(context.Background(), profile.Event{})
	}

	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != "patient_profile_consumer_store_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
		}
	}
	assert.Equal(t, map[string]uint64{"applied": 2, "stale": 1, "error": 1}, got)
}
