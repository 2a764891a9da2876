package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/soak"
)

func TestPostTravelsToTheTable(t *testing.T) {
	logs := logtest.New(t)
	s := startStack(t, logs)
	cport, pport := devenvtest.FreePort(t), devenvtest.FreePort(t)
	start(t, "consumer", s.ConsumerEnv(cport), cport, logs)
	start(t, "producer", s.ProducerEnv(pport), pport, logs)

	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/patientprofile", pport), "application/json",
		strings.NewReader(`{"PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":"False","Sex":"Female"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var created struct {
		EventID   string `json:"EventId"`
		PatientID string `json:"PatientId"`
		UpdatedAt string
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))

	var got profile.Event
	require.Eventually(t, func() bool {
		e, ok, err := s.Store.Get(context.Background(), "1")
		got = e
		return err == nil && ok
	}, 20*time.Second, 50*time.Millisecond, "the profile never reached the table")

	assert.Equal(t, created.EventID, got.EventID)
	assert.Equal(t, created.UpdatedAt, got.UpdatedAt.Format(time.RFC3339Nano))
	assert.Equal(t, "John", got.FirstName)
	assert.Equal(t, "Doe", got.LastName)
	assert.Equal(t, "female", got.Sex, "the producer stores the lower-case FHIR code")
	assert.False(t, got.IsPregnant)

	// The row can be read a moment before the consumer counts it.
	var body []byte
	assert.Eventually(t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", cport))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(resp.Body)
		return strings.Contains(string(body), `patient_profile_consumer_events_total{outcome="applied"} 1`)
	}, 5*time.Second, 50*time.Millisecond, "consumer metrics:\n%s", body)
}

func TestOutOfOrderEventsConvergeToTheNewest(t *testing.T) {
	logs := logtest.New(t)
	s := startStack(t, logs)

	// Published straight to the topic, newest first, as another producer (or kcat) could.
	older := `{"EventId":"a","PatientId":"%s","FirstName":"John","IsPregnant":false,"UpdatedAt":"2026-01-02T15:00:00.5+10:00"}`
	newer := `{"EventId":"a","PatientId":"%s","FirstName":"John","IsPregnant":true,"UpdatedAt":"2026-01-02T05:00:01Z"}`
	tieLow := `{"EventId":"a","PatientId":"%s","FirstName":"Low","UpdatedAt":"2026-01-02T05:00:01.10Z"}`
	tieHigh := `{"EventId":"b","PatientId":"%s","FirstName":"High","UpdatedAt":"2026-01-02T05:00:01.1Z"}`
	narrow := `{"EventId":"z","PatientId":"%s","FirstName":"Narrow","UpdatedAt":"2026-01-02T05:00:01.05Z"}`
	var msgs []message.Message
	for i := range 20 {
		id := strconv.Itoa(i)
		for _, v := range []string{newer, older, newer} {
			msgs = append(msgs, message.Message{Key: []byte(id), Value: []byte(fmt.Sprintf(v, id))})
		}
		id = "tie-" + id
		for _, v := range []string{tieHigh, narrow, tieLow} {
			msgs = append(msgs, message.Message{Key: []byte(id), Value: []byte(fmt.Sprintf(v, id))})
		}
	}
	w := broker.NewWriter(s.Cluster(), s.Topic)
	require.NoError(t, w.Write(context.Background(), msgs...))
	require.NoError(t, w.Close(context.Background()))

	cport := devenvtest.FreePort(t)
	start(t, "consumer", s.ConsumerEnv(cport), cport, logs)
	waitNoLag(t, s, 30*time.Second)

	for i := range 20 {
		got, ok, err := s.Store.Get(context.Background(), strconv.Itoa(i))
		require.NoError(t, err)
		require.True(t, ok)
		assert.True(t, got.IsPregnant, "patient %d: the older event overwrote the newer", i)
		assert.Equal(t, "2026-01-02T05:00:01Z", got.UpdatedAt.Format(time.RFC3339Nano))

		got, ok, err = s.Store.Get(context.Background(), "tie-"+strconv.Itoa(i))
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "High", got.FirstName, "patient tie-%d: equal instants must resolve by EventId", i)
	}
}

func TestConsumersInOneGroupShareThePartitions(t *testing.T) {
	logs := logtest.New(t)
	s := startStack(t, logs)
	a, b := devenvtest.FreePort(t), devenvtest.FreePort(t)
	start(t, "consumer", s.ConsumerEnv(a), a, logs)
	start(t, "consumer", s.ConsumerEnv(b), b, logs)

	var got [][]int
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		got, err = broker.Assignments(ctx, s.Cluster(), s.Group, s.Topic)
		return err == nil && len(got) == 2 && len(got[0]) > 0 && len(got[1]) > 0
	}, 30*time.Second, 100*time.Millisecond, "assignments: %v", got)
	all := slices.Concat(got...)
	slices.Sort(all)
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5}, all, "every partition is held by exactly one member")

	w := broker.NewWriter(s.Cluster(), s.Topic)
	defer w.Close(context.Background())
	var msgs []message.Message
	for i := range 200 {
		e := profile.Event{PatientID: strconv.Itoa(i), EventID: "x", UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, i, time.UTC)}
		v, err := json.Marshal(e)
		require.NoError(t, err)
		msgs = append(msgs, message.Message{Key: []byte(e.PatientID), Value: v})
	}
	require.NoError(t, w.Write(context.Background(), msgs...))
	waitNoLag(t, s, 30*time.Second)

	n := 0
	require.NoError(t, s.Store.Scan(context.Background(), func(profile.Event) { n++ }))
	assert.Equal(t, 200, n)
}

// TestSoak is a small run of the convergence test (`make soak` runs the large one): real
// consumer processes SIGKILLed at random points, several at once with one killed, crash loops
// (all killed before the group settles on them), over an adversarial stream with deletions and
// Kafka tombstones in it, and then network faults (latency, resets, black holes, slicing and
// partitions) between the consumers, a producer under load, and the broker and the store.
func TestSoak(t *testing.T) {
	devenvtest.SkipIfShort(t)
	logs := logtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	res, err := soak.Run(ctx, soak.Config{
		Patients: 150, Events: 1500, Poison: 12, Kills: 2, Consumers: 2, CrashLoops: 2,
		NetworkFaults: true, FaultDuration: 2 * time.Second,
		Seed: seed, ConsumerBin: bins["consumer"], ProducerBin: bins["producer"], Logs: logs,
		Progress: logs,
	})

	require.NoError(t, err)
	t.Log(res)
	assert.True(t, res.OK(), "%s\n%s", res, strings.Join(res.Problems, "\n"))
	assert.Empty(t, res.Problems)
	assert.Equal(t, 2, res.Kills)
	assert.Equal(t, 1, res.ConcurrentKills)
	assert.Equal(t, 2, res.CrashLoops)
	assert.Positive(t, res.KillsInFlight, "at least one kill must land on uncommitted work")
	assert.Positive(t, res.Erased, "some patients must end erased")
	assert.Positive(t, res.KafkaTombstones)
	assert.Len(t, res.Faults, 8, "every kind of network fault")
	assert.Positive(t, res.Producer.Acknowledged, "the producer's load")
	assert.Positive(t, res.Producer.Unavailable, "the faults on its link must have cost some 503s")
}
