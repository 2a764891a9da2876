package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// The Idempotency-Key tests run the real producers on the embedded stack, their keys in
// dynalite, and read what reached the topic and the table.

// answer is an HTTP answer, read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

// stamp is a 201's body.
func (a answer) stamp(t *testing.T) map[string]string {
	t.Helper()
	var m map[string]string
	require.NoError(t, json.Unmarshal([]byte(a.body), &m), a.body)
	return m
}

// postWithKey POSTs body to the producer on port, with the Idempotency-Key if not empty.
func postWithKey(t *testing.T, port int, key, body string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/patientprofile", port),
		strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return do(t, req)
}

func get(t *testing.T, port int, path string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path),
		http.NoBody)
	require.NoError(t, err)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// eventsOf reads the whole topic and returns the patient's events, in the order of its partition.
func eventsOf(t *testing.T, s *devenv.Stack, patient string) []profile.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := broker.ReadAll(ctx, s.Cluster(), s.Topic)
	require.NoError(t, err)
	var events []profile.Event
	for _, m := range msgs {
		if string(m.Key) != patient || m.Value == nil {
			continue
		}
		e, err := profile.Decode(m.Value)
		require.NoError(t, err)
		events = append(events, e)
	}
	return events
}

// The lost update, with the real binaries. A's first POST is written by the broker but
// its acknowledgement is lost (kfake appends, then answers REQUEST_TIMED_OUT), so A gets a 503;
// B updates the patient and gets a 201; A retries with its key, as the 503 says to. The row must
// end at B's update, and every event of A on the topic must be A's first, EventId and stamp.
func TestARetryWithAKeyNeverOverwritesANewerUpdate(t *testing.T) {
	logs := logtest.New(t)
	s := startStack(t, logs)
	cport, pport := devenvtest.FreePort(t), devenvtest.FreePort(t)
	start(t, "consumer", s.ConsumerEnv(cport), cport, logs)
	// A generous bound on the key table's calls: the test is about the broker, on a busy machine.
	start(t, "producer", s.ProducerEnv(pport, "PUBLISH_TIMEOUT=2s", "IDEMPOTENCY_TIMEOUT=3s"), pport, logs)
	const patient = "lost-update"
	v1 := `{"PatientId":"` + patient + `","FirstName":"v1"}`
	v2 := `{"PatientId":"` + patient + `","FirstName":"v2"}`

	lost := s.Kafka.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: s.Topic, Err: kerr.RequestTimedOut,
		Count: -1})
	a := postWithKey(t, pport, "client-a-1", v1)
	require.Equal(t, http.StatusServiceUnavailable, a.status, a.body)
	assert.Contains(t, a.body, "retry with the same Idempotency-Key")
	lost.Remove()
	written := eventsOf(t, s, patient)
	require.NotEmpty(t, written, "the broker wrote A's event although it did not acknowledge it")
	first := written[0]

	b := postWithKey(t, pport, "", v2)
	require.Equal(t, http.StatusCreated, b.status, b.body)
	bID := b.stamp(t)["EventId"]
	require.Eventually(t, func() bool {
		e, ok, err := s.Store.Get(context.Background(), patient)
		return err == nil && ok && e.EventID == bID
	}, 30*time.Second, 50*time.Millisecond, "B's update never reached the row")

	retry := postWithKey(t, pport, "client-a-1", v1)
	require.Equal(t, http.StatusCreated, retry.status, retry.body)
	assert.Equal(t, map[string]string{"EventId": first.EventID, "PatientId": patient,
		"UpdatedAt": first.UpdatedAt.Format(time.RFC3339Nano)}, retry.stamp(t), "the retry is A's first event")
	waitNoLag(t, s, 30*time.Second)

	row, ok, err := s.Store.Get(context.Background(), patient)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, bID, row.EventID, "B's update stays")
	assert.Equal(t, "v2", row.FirstName)
	var fromA int
	for _, e := range eventsOf(t, s, patient) {
		if e.FirstName == "v1" {
			fromA++
			assert.Equal(t, first.EventID, e.EventID, "every event of A carries A's first EventId")
			assert.True(t, first.UpdatedAt.Equal(e.UpdatedAt), "and its first stamp")
		}
	}
	assert.GreaterOrEqual(t, fromA, 2, "the lost try and the retry")

	again := postWithKey(t, pport, "client-a-1", v1)
	require.Equal(t, http.StatusCreated, again.status)
	assert.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	assert.Equal(t, retry.body, again.body)
}

// Twenty retries with one key at once, spread over two producers that share the key table: one
// event is published (or repeats of the same one), and every 201 has the same body.
func TestConcurrentRetriesAcrossProducers(t *testing.T) {
	logs := logtest.New(t)
	s := startStack(t, logs)
	ports := []int{devenvtest.FreePort(t), devenvtest.FreePort(t)}
	for _, port := range ports {
		// A generous bound on the key table's calls: a 503 would not say anything about races.
		start(t, "producer", s.ProducerEnv(port, "PUBLISH_TIMEOUT=2s", "IDEMPOTENCY_TIMEOUT=3s"), port, logs)
	}
	// The broker holds its first acknowledgement a while, so that the retries meet the first
	// request in flight, not only its answer.
	s.Kafka.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		s.Kafka.DropControl()
		time.Sleep(300 * time.Millisecond)
		return nil, nil, false
	})
	const patient, n = "concurrent", 20
	body := `{"PatientId":"` + patient + `","FirstName":"John"}`
	answers := make([]answer, n)
	var wg sync.WaitGroup
	begin := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-begin
			answers[i] = postWithKey(t, ports[i%2], "one-key", body)
		})
	}
	close(begin)
	wg.Wait()

	var created []string
	statuses := map[int]int{}
	for _, a := range answers {
		statuses[a.status]++
		switch a.status {
		case http.StatusCreated:
			created = append(created, a.body)
		case http.StatusConflict:
			assert.NotEmpty(t, a.header.Get("Retry-After"))
		default:
			t.Errorf("got %d: %s", a.status, a.body)
		}
	}
	t.Logf("answers by status: %v", statuses)
	require.NotEmpty(t, created)
	for _, c := range created {
		assert.Equal(t, created[0], c, "one 201 body for all")
	}
	// The 409s retry, as Retry-After says, and get the same answer.
	for _, port := range ports {
		again := postWithKey(t, port, "one-key", body)
		require.Equal(t, http.StatusCreated, again.status, again.body)
		assert.Equal(t, created[0], again.body)
		assert.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	}
	var first map[string]string
	require.NoError(t, json.Unmarshal([]byte(created[0]), &first))
	events := eventsOf(t, s, patient)
	require.NotEmpty(t, events)
	for _, e := range events {
		assert.Equal(t, first["EventId"], e.EventID, "one event, or repeats of it")
	}
	t.Logf("%d event(s) on the topic", len(events))
}

// When the key table fails, a request with a key gets a 503 and publishes nothing; a request
// without one is served as ever. /readyz names the key table.
func TestKeyStoreDown(t *testing.T) {
	tests := []struct {
		name string
		// stop breaks the key store and returns how to undo it, if it can be.
		stop func(t *testing.T, s *devenv.Stack) (env []string)
	}{
		{name: "stopped", stop: func(_ *testing.T, s *devenv.Stack) []string { s.Dynalite.Stop(); return nil }},
		{name: "hung (SIGSTOP)", stop: func(t *testing.T, s *devenv.Stack) []string {
			require.NoError(t, s.Dynalite.Pause())
			t.Cleanup(func() { _ = s.Dynalite.Resume() })
			return nil
		}},
		{name: "no such table", stop: func(*testing.T, *devenv.Stack) []string {
			return []string{"IDEMPOTENCY_TABLE=nosuchtable"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := logtest.New(t)
			s := startStack(t, logs)
			port := devenvtest.FreePort(t)
			env := tt.stop(t, s)
			start(t, "producer", s.ProducerEnv(port, append([]string{"IDEMPOTENCY_TIMEOUT=500ms"}, env...)...), port, logs)

			began := time.Now()
			keyed := postWithKey(t, port, "k", `{"PatientId":"keyed"}`)
			assert.Equal(t, http.StatusServiceUnavailable, keyed.status, keyed.body)
			assert.Contains(t, keyed.body, "problem/key-store-unavailable")
			assert.NotEmpty(t, keyed.header.Get("Retry-After"))
			assert.Less(t, time.Since(began), 5*time.Second, "IDEMPOTENCY_TIMEOUT is 500ms")

			unkeyed := postWithKey(t, port, "", `{"PatientId":"unkeyed"}`)
			assert.Equal(t, http.StatusCreated, unkeyed.status, unkeyed.body)

			table := "patient-profile-idempotency"
			if len(env) > 0 {
				table = "nosuchtable"
			}
			ready := get(t, port, "/readyz")
			assert.Equal(t, http.StatusServiceUnavailable, ready.status)
			assert.Contains(t, ready.body, "dynamodb table "+table)

			assert.Empty(t, eventsOf(t, s, "keyed"), "nothing is published for a key that was not recorded")
			assert.Len(t, eventsOf(t, s, "unkeyed"), 1)
			assert.Contains(t, logs.String(), "idempotency key not recorded; nothing published")
		})
	}
}
