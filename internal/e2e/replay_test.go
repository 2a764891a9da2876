package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
	"github.com/ankitamadan/patient-profile/internal/message"
)

// TestReplayDeadLetters is an operator's session with cmd/replay-dlq against the real consumer: an
// event another producer got wrong is parked; a dry run shows it and why; replayed as it is it
// fails again and is parked again; replayed with its value fixed (-edit) it reaches the table; and
// the same replay a second time changes nothing.
func TestReplayDeadLetters(t *testing.T) {
	logs := logtest.New(t)
	s := startStack(t, logs)
	cport := devenvtest.FreePort(t)
	start(t, "consumer", s.ConsumerEnv(cport), cport, logs)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// IsPregnant as a string, as the HTTP API takes it but the event does not.
	bad := `{"EventId":"e1","PatientId":"p-7","FirstName":"Grace","IsPregnant":"yes","UpdatedAt":"2026-01-02T05:00:00Z"}`
	w := broker.NewWriter(s.Cluster(), s.Topic)
	defer w.Close(context.Background())
	require.NoError(t, w.Write(ctx, message.Message{Key: []byte("p-7"), Value: []byte(bad)}))
	waitNoLag(t, s, 30*time.Second)
	original := readTopic(t, s, s.Topic)[0]
	parked := readTopic(t, s, s.DLQTopic)
	require.Len(t, parked, 1)
	source := fmt.Sprintf("%s/%d/%d", s.Topic, original.Partition, original.Offset)
	dlqAt := fmt.Sprintf("%s/%d/%d", s.DLQTopic, parked[0].Partition, parked[0].Offset)
	reason := "decode event: IsPregnant: must be a bool, got string"

	replayDLQ := func(args ...string) (string, error) {
		out, err := runReplay(ctx, s, nil, args...)
		assert.NotContains(t, out, "Grace", "the output must never show a value")
		return out, err
	}

	// A dry run lists it and why it was parked, and publishes nothing.
	out, err := replayDLQ("-dry-run")
	require.NoError(t, err, out)
	assert.Contains(t, out, fmt.Sprintf(`would-replay patient="p-7" source=%s dlq=%s error=%q`, source, dlqAt, reason))
	assert.Contains(t, out, "summary: read 1, chosen 1: would replay 1,")
	assert.Len(t, readTopic(t, s, s.Topic), 1, "a dry run publishes nothing")

	// Replayed as it is, it fails again and goes back to the dead-letter topic, saying it was a
	// replay and of what.
	out, err = replayDLQ("-patient", "p-7")
	require.NoError(t, err, out)
	assert.Contains(t, out, fmt.Sprintf(`replayed     patient="p-7" source=%s dlq=%s`, source, dlqAt))
	waitNoLag(t, s, 30*time.Second)
	parked = readTopic(t, s, s.DLQTopic)
	require.Len(t, parked, 2)
	replayed := readTopic(t, s, s.Topic)[1]
	h := headerMap(parked[1])
	assert.Equal(t, dlqAt, h[deadletter.HeaderReplayedFrom])
	assert.Equal(t, source, h[deadletter.HeaderReplaySource])
	assert.Equal(t, reason, h[deadletter.HeaderError])
	assert.Equal(t, strconv.FormatInt(replayed.Offset, 10), h[deadletter.HeaderOffset], "parked again from the replayed copy")
	assert.Equal(t, bad, string(parked[1].Value))

	// With the value fixed, it reaches the table. The copy parked again is the same event, so it
	// is skipped: -edit chooses exactly one dead letter, or publishes nothing.
	fixed := filepath.Join(t.TempDir(), "fixed.json")
	require.NoError(t, os.WriteFile(fixed, []byte(strings.Replace(bad, `"yes"`, "true", 1)+"\n"), 0o600))
	edit := []string{"-patient", "p-7", "-edit", fixed}
	out, err = replayDLQ(edit...)
	require.NoError(t, err, out)
	assert.Contains(t, out, fmt.Sprintf(`replayed     patient="p-7" source=%s dlq=%s error=%q note="value replaced"`, source, dlqAt, reason))
	assert.Contains(t, out, fmt.Sprintf(`note="duplicate of %s"`, dlqAt))
	assert.Contains(t, out, "summary: read 2, chosen 2: replayed 1, skipped 1 (duplicate 1,")
	waitNoLag(t, s, 30*time.Second)
	got, ok, err := s.Store.Get(ctx, "p-7")
	require.NoError(t, err)
	require.True(t, ok, "the fixed event never reached the table")
	assert.True(t, got.IsPregnant)
	assert.Equal(t, "Grace", got.FirstName)
	assert.Equal(t, "e1", got.EventID)

	// The same replay again changes nothing: the consumer counts it stale.
	out, err = replayDLQ(edit...)
	require.NoError(t, err, out)
	waitNoLag(t, s, 30*time.Second)
	again, ok, err := s.Store.Get(ctx, "p-7")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, got, again)
	assert.Equal(t, got.OrderKey(), again.OrderKey())
	assert.Len(t, readTopic(t, s, s.DLQTopic), 2, "nothing new was parked")
	metrics := scrape(t, cport)
	for _, want := range []string{`outcome="applied"} 1`, `outcome="stale"} 1`, `outcome="dead_lettered"} 2`} {
		assert.Contains(t, metrics, "patient_profile_consumer_events_total{"+want)
	}
}

// The replay speaks TLS and SASL like the services: it reads the dead-letter topic and publishes
// to the event topic of a broker that requires both, and a wrong password fails the run.
func TestReplayOverTLSAndSASL(t *testing.T) {
	logs := logtest.New(t)
	s, secure, caFile := startSecureStack(t, logs)
	cport := devenvtest.FreePort(t)
	start(t, "consumer", s.ConsumerEnv(cport, secure...), cport, logs)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cluster, err := broker.NewCluster(s.Brokers, broker.Security{TLS: true, TLSCAFile: caFile,
		SASLMechanism: "SCRAM-SHA-512", SASLUsername: "svc", SASLPassword: "s3cret"}, nil)
	require.NoError(t, err)
	w := broker.NewWriter(cluster, s.Topic)
	defer w.Close(context.Background())
	require.NoError(t, w.Write(ctx, message.Message{Key: []byte("p-9"), Value: []byte("not json")}))

	var out string
	require.Eventually(t, func() bool {
		out, err = runReplay(ctx, s, secure, "-dry-run")
		return err == nil && strings.Contains(out, `would-replay patient="p-9"`)
	}, 30*time.Second, 200*time.Millisecond, "the dead letter never showed: %v\n%s", err, out)

	out, err = runReplay(ctx, s, secure, "-patient", "p-9")
	require.NoError(t, err, out)
	assert.Contains(t, out, "summary: read 1, chosen 1: replayed 1,")

	out, err = runReplay(ctx, s, append(secure, "KAFKA_SASL_PASSWORD=wrong"), "-dry-run")
	assert.Error(t, err, "a wrong password must fail the run: %s", out)
}

// runReplay runs cmd/replay-dlq against the stack, with extra environment entries, and returns
// its output.
func runReplay(ctx context.Context, s *devenv.Stack, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bins["replay-dlq"], args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"KAFKA_BROKERS=" + s.Brokers[0], "TOPIC_NAME=" + s.Topic, "DLQ_TOPIC=" + s.DLQTopic}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readTopic(t *testing.T, s *devenv.Stack, topic string) []message.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := broker.ReadAll(ctx, s.Cluster(), topic)
	require.NoError(t, err)
	return msgs
}

func headerMap(m message.Message) map[string]string {
	h := map[string]string{}
	for _, hd := range m.Headers {
		h[hd.Key] = string(hd.Value)
	}
	return h
}

func scrape(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}
