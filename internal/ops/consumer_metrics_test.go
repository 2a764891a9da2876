package ops

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/consumer"
)

// gather returns the registry's families by name.
func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	return byName
}

// Every outcome's series is there before the first event, so that an alert on freshness watches
// a series that exists; each observation lands under its outcome, in seconds.
func TestEventAgeByOutcome(t *testing.T) {
	reg := prometheus.NewRegistry()
	observe := EventAge(reg)

	f := gather(t, reg)["patient_profile_consumer_event_age_seconds"]
	require.NotNil(t, f, "the histogram is not exported before the first event")
	assert.Len(t, f.GetMetric(), len(consumer.AgeOutcomes))

	observe(consumer.OutcomeApplied, 8*time.Millisecond)
	observe(consumer.OutcomeApplied, 40*time.Millisecond)
	observe(consumer.OutcomeStale, 2*time.Hour)
	count, sum := map[string]uint64{}, map[string]float64{}
	for _, m := range gather(t, reg)["patient_profile_consumer_event_age_seconds"].GetMetric() {
		count[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
		sum[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleSum()
	}
	assert.Equal(t, map[string]uint64{"applied": 2, "stale": 1, "superseded": 0, "dead_lettered": 0}, count)
	assert.InDelta(t, 0.048, sum["applied"], 1e-9)
	assert.InDelta(t, 7200, sum["stale"], 1e-9)
}

// The group's lag is asked at scrape time; a failed ask leaves the metric out of that scrape
// rather than failing the whole scrape or showing a stale number.
func TestGroupLag(t *testing.T) {
	tests := []struct {
		name    string
		lag     func(context.Context) (int64, error)
		want    float64
		present bool
	}{
		{"the broker answers", func(context.Context) (int64, error) { return 1234, nil }, 1234, true},
		{"the broker does not", func(context.Context) (int64, error) { return 0, errors.New("dial tcp: refused") }, 0, false},
		{"the ask has a deadline", func(ctx context.Context) (int64, error) {
			_, ok := ctx.Deadline()
			if !ok {
				return 0, errors.New("no deadline")
			}
			return 7, nil
		}, 7, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			RegisterGroupLag(reg, tt.lag)
			f, ok := gather(t, reg)["patient_profile_consumer_group_lag"]
			require.Equal(t, tt.present, ok)
			if ok {
				assert.Equal(t, tt.want, f.GetMetric()[0].GetGauge().GetValue())
			}
		})
	}
}
