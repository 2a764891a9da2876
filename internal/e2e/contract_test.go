package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// Events that must never be applied, published around the producer as another producer (or
// kcat) could: each ends in the dead-letter topic with a reason naming the problem, and none
// stops the patient's next real update.
func TestEventsThatMustNeverBeApplied(t *testing.T) {
	logs := logtest.New(t)
	s := startStack(t, logs)
	port := devenvtest.FreePort(t)
	start(t, "consumer", s.ConsumerEnv(port), port, logs)

	now := time.Now().UTC()
	soon := now.Add(time.Minute).Format(time.RFC3339Nano) // within MAX_CLOCK_SKEW (5m)
	bad := []struct {
		name, key, value, wantReason string
	}{
		{"from the far future", "1", `{"EventId":"f","PatientId":"1","FirstName":"Frozen","UpdatedAt":"9999-12-31T23:59:59Z"}`,
			"is ahead of the consumer's clock"},
		{"an hour ahead", "2", `{"EventId":"h","PatientId":"2","FirstName":"Early","UpdatedAt":"` + now.Add(time.Hour).Format(time.RFC3339) + `"}`,
			"by more than MAX_CLOCK_SKEW=5m0s"},
		{"names by case", "3", `{"patientid":"3","firstname":"Lower","UpdatedAt":"` + soon + `"}`,
			`field "patientid": names are case-sensitive, the contract's is "PatientId"`},
		{"a name twice", "4", `{"PatientId":"4","FirstName":"Twice","UpdatedAt":"` + soon + `","PatientId":"5"}`,
			`field "PatientId" appears more than once`},
		{"key is not the PatientId", "6", `{"PatientId":"7","FirstName":"Elsewhere","UpdatedAt":"` + soon + `"}`,
			`message key "6" is not the event's PatientId "7"`},
	}
	var msgs []message.Message
	for _, b := range bad {
		msgs = append(msgs, message.Message{Key: []byte(b.key), Value: []byte(b.value)})
	}
	w := broker.NewWriter(s.Cluster(), s.Topic)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, w.Write(ctx, msgs...))

	// Then a normal update for each patient, stamped now: it must win.
	var updates []message.Message
	for _, id := range []string{"1", "2", "3", "4", "7"} {
		b, err := json.Marshal(profile.Event{EventID: "u", PatientID: id, FirstName: "Updated", UpdatedAt: now})
		require.NoError(t, err)
		updates = append(updates, message.Message{Key: []byte(id), Value: b})
	}
	require.NoError(t, w.Write(ctx, updates...))
	require.NoError(t, w.Close(context.Background()))
	waitNoLag(t, s, 30*time.Second)

	for _, id := range []string{"1", "2", "3", "4", "7"} {
		got, ok, err := s.Store.Get(ctx, id)
		require.NoError(t, err)
		require.True(t, ok, "patient %s: the update was not applied", id)
		assert.Equal(t, "Updated", got.FirstName, "patient %s", id)
		assert.True(t, got.UpdatedAt.Equal(now), "patient %s: UpdatedAt %s", id, got.UpdatedAt)
	}

	dead, err := broker.ReadAll(ctx, s.Cluster(), s.DLQTopic)
	require.NoError(t, err)
	reasons := map[string]string{}
	for _, m := range dead {
		for _, h := range m.Headers {
			if h.Key == deadletter.HeaderError {
				reasons[string(m.Value)] = string(h.Value)
			}
		}
	}
	assert.Len(t, dead, len(bad))
	for _, b := range bad {
		assert.Contains(t, reasons[b.value], b.wantReason, b.name)
	}

	body := metrics(t, port)
	for _, want := range []string{
		`patient_profile_consumer_dead_letters_total{reason="future"} 2`,
		`patient_profile_consumer_dead_letters_total{reason="contract"} 2`,
		`patient_profile_consumer_dead_letters_total{reason="key_mismatch"} 1`,
	} {
		assert.Contains(t, body, want)
	}
}

func metrics(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// A mistyped topic made kafka-go's group reader rejoin in a tight loop, about a thousand log
// lines a second. The consumer now says what it waits for, a few times, and starts by itself
// once the topic exists.
func TestConsumerWaitsQuietlyForAMissingTopic(t *testing.T) {
	stackLogs, logs := logtest.New(t), logtest.New(t)
	s := startStack(t, stackLogs)
	const topic = "nosuchtopic"
	port := devenvtest.FreePort(t)
	start(t, "consumer", s.ConsumerEnv(port, "TOPIC_NAME="+topic), port, logs)

	const watch = 5 * time.Second
	time.Sleep(watch)
	lines := strings.Count(logs.String(), "\n")
	assert.LessOrEqual(t, lines, 15, "lines written in %s with a missing topic", watch)
	assert.True(t, strings.Contains(logs.String(), `"missing":"kafka topic nosuchtopic: not found"`), "the log does not say what is missing")

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
	require.NoError(t, err)
	ready, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(ready), "kafka topic nosuchtopic: not found")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, broker.CreateTopics(ctx, s.Cluster(), 3, topic))

	w := broker.NewWriter(s.Cluster(), topic)
	b, err := json.Marshal(profile.Event{EventID: "e", PatientID: "late", FirstName: "Late", UpdatedAt: time.Now()})
	require.NoError(t, err)
	require.NoError(t, w.Write(ctx, message.Message{Key: []byte("late"), Value: b}))
	require.NoError(t, w.Close(context.Background()))
	assert.Eventually(t, func() bool {
		_, ok, err := s.Store.Get(ctx, "late")
		return err == nil && ok
	}, 20*time.Second, 100*time.Millisecond, "the consumer did not start by itself once the topic existed")
	assert.Eventually(t, func() bool { return status(port, "/readyz") == http.StatusOK }, 10*time.Second, 100*time.Millisecond)
}
