package soak

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

func TestMetricValue(t *testing.T) {
	exposition := "# HELP patient_profile_consumer_retries_total Failed store writes...\n" +
		"# TYPE patient_profile_consumer_retries_total counter\n" +
		"patient_profile_consumer_retries_total 1234\n" +
		"patient_profile_consumer_retries_total_other 7\n" +
		"patient_profile_consumer_commit_failures_total 5\n"
	tests := []struct {
		name string
		want int64
	}{
		{"patient_profile_consumer_retries_total", 1234},
		{"patient_profile_consumer_commit_failures_total", 5},
		{"patient_profile_consumer_commits_total", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, metricValue(exposition, tt.name))
		})
	}
}

// The producer's patients are held to their newest event on the topic, not to the newest 201:
// a request answered 503 may have been published all the same.
func TestNewestOnTopic(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC)
	event := func(patient, id string, ms int) []byte {
		b, err := profile.Event{EventID: id, PatientID: patient, FirstName: id,
			UpdatedAt: t0.Add(time.Duration(ms) * time.Millisecond)}.MarshalJSON()
		require.NoError(t, err)
		return b
	}
	values := [][]byte{
		event("net-1", "a", 1), event("net-1", "c", 3), event("net-1", "b", 2),
		event("net-2", "d", 1),
		event("p7", "stream", 9), // a patient of the stream, not the producer's
		[]byte("poison"),
		nil, // a Kafka tombstone
	}
	newest, ids, err := newestOnTopic(values)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"net-1": "c", "net-2": "d"},
		map[string]string{"net-1": newest["net-1"].EventID, "net-2": newest["net-2"].EventID})
	assert.Len(t, newest, 2)
	assert.Equal(t, map[string]bool{"a": true, "b": true, "c": true, "d": true}, ids)

	_, _, err = newestOnTopic([][]byte{event("p7", "stream", 1)})
	assert.ErrorIs(t, err, errNoEvent)
}

func TestProducerResult(t *testing.T) {
	tests := []struct {
		name string
		res  ProducerResult
		ok   bool
	}{
		{"201s and 503s", ProducerResult{Sent: 10, Acknowledged: 7, Unavailable: 3}, true},
		{"an acknowledged event lost", ProducerResult{Sent: 10, Acknowledged: 7, Unavailable: 3, Lost: 1}, false},
		{"a request left hanging", ProducerResult{Sent: 10, Acknowledged: 9, Hung: 1}, false},
		{"an answer neither 201 nor 503", ProducerResult{Sent: 10, Acknowledged: 9, Other: 1}, false},
		{"a retry stamped after its first 503", ProducerResult{Sent: 10, Acknowledged: 9, Unavailable: 1, Retried: 1,
			RetriedAcknowledged: 1, RetriedNewer: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.ok, tt.res.OK())
			r := Result{Patients: 1, Converged: 1, Producer: tt.res}
			assert.Equal(t, tt.ok, r.OK(), "the run's verdict follows the producer's")
		})
	}
}

func TestFaultReport(t *testing.T) {
	f := FaultReport{Name: "black hole", Held: 4 * time.Second, Settled: 1890 * time.Millisecond,
		Retries: 256, CommitFailures: 2, Rebalances: 3, Unavailable: 89}
	assert.Equal(t, `"black hole" held 4s: 256 store or dead-letter retries, 3 rebalances, 2 commits refused, `+
		`89 503s; the group settled 1.9s after it healed`, f.String())
}

func TestFaultKindsCoverTheIssue(t *testing.T) {
	kinds := faultKinds(Config{FaultDuration: 2 * time.Second})
	var names []string
	for _, k := range kinds {
		names = append(names, k.name)
		if k.hold != 0 {
			assert.Greater(t, k.hold, 3*time.Second, "%s: a partition outlasts the soak's 3 s session timeout", k.name)
		}
	}
	for _, want := range []string{"latency", "reset_peer", "black hole", "hang-up", "slicer", "cut off from the broker",
		"cut off from the store", "mixed"} {
		assert.True(t, slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, want) }),
			"no fault named %q among %q", want, names)
	}
}
