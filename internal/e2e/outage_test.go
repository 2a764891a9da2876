package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// The outage tests stop a real dependency (the broker, the store) under a running binary and
// check what a client, the group's offsets and the table see, during and after.

func postProfile(port int, patient string) (*http.Response, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	return client.Post(fmt.Sprintf("http://127.0.0.1:%d/patientprofile", port), "application/json",
		strings.NewReader(`{"PatientId":"`+patient+`","FirstName":"John","IsPregnant":false}`))
}

func status(port int, path string) int {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// versions publishes one event per patient, all at version v (a later v is newer).
func publishVersion(t *testing.T, s *devenv.Stack, patients, v int) {
	t.Helper()
	w := broker.NewWriter(s.Cluster(), s.Topic)
	defer w.Close(context.Background())
	var msgs []message.Message
	for i := range patients {
		e := profile.Event{PatientID: "p" + strconv.Itoa(i), EventID: "v" + strconv.Itoa(v), FirstName: "v" + strconv.Itoa(v),
			UpdatedAt: time.Date(2026, 1, 2, 5, 0, v, 0, time.UTC)}
		b, err := json.Marshal(e)
		require.NoError(t, err)
		msgs = append(msgs, message.Message{Key: []byte(e.PatientID), Value: b})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, w.Write(ctx, msgs...))
}

// atVersion reports whether every patient's row is at version v.
func atVersion(s *devenv.Stack, patients, v int) bool {
	n := 0
	err := s.Store.Scan(context.Background(), func(e profile.Event) {
		if e.FirstName == "v"+strconv.Itoa(v) {
			n++
		}
	})
	return err == nil && n == patients
}

func lag(t *testing.T, s *devenv.Stack) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := broker.Lag(ctx, s.Cluster(), s.Group, s.Topic)
	require.NoError(t, err)
	return n
}

func TestProducerBrokerOutage(t *testing.T) {
	logs := logtest.New(t)
	s := startStack(t, logs, func(o *devenv.Options) { o.KafkaDataDir = t.TempDir() })
	port := devenvtest.FreePort(t)
	start(t, "producer", s.ProducerEnv(port, "PUBLISH_TIMEOUT=1s"), port, logs)

	resp, err := postProfile(port, "before")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, http.StatusOK, status(port, "/readyz"))

	s.StopKafka()

	t.Run("503 with Retry-After within the publish timeout", func(t *testing.T) {
		for i := range 3 {
			began := time.Now()
			resp, err := postProfile(port, "during-"+strconv.Itoa(i))
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.NotEmpty(t, resp.Header.Get("Retry-After"))
			assert.Less(t, time.Since(began), 3*time.Second, "PUBLISH_TIMEOUT is 1s")
		}
	})
	t.Run("readyz reports not ready", func(t *testing.T) {
		assert.Eventually(t, func() bool { return status(port, "/readyz") == http.StatusServiceUnavailable }, 10*time.Second, 100*time.Millisecond)
		assert.Equal(t, http.StatusOK, status(port, "/healthz"), "liveness must not fail for a dependency")
	})

	require.NoError(t, s.StartKafka(context.Background()))

	t.Run("recovers without a restart", func(t *testing.T) {
		assert.Eventually(t, func() bool {
			resp, err := postProfile(port, "after")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusCreated
		}, 30*time.Second, 200*time.Millisecond)
		assert.Eventually(t, func() bool { return status(port, "/readyz") == http.StatusOK }, 10*time.Second, 100*time.Millisecond)
	})

	t.Run("every 201 is in the topic", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		msgs, err := broker.ReadAll(ctx, s.Cluster(), s.Topic)
		require.NoError(t, err)
		keys := map[string]bool{}
		for _, m := range msgs {
			keys[string(m.Key)] = true
		}
		assert.True(t, keys["before"], "event acknowledged before the outage")
		assert.True(t, keys["after"], "event acknowledged after the outage")
	})
}

func TestConsumerBrokerOutage(t *testing.T) {
	logs := logtest.New(t)
	s := startStack(t, logs, func(o *devenv.Options) { o.KafkaDataDir = t.TempDir() })
	port := devenvtest.FreePort(t)
	consumer := start(t, "consumer", s.ConsumerEnv(port), port, logs)

	publishVersion(t, s, 30, 1)
	require.Eventually(t, func() bool { return atVersion(s, 30, 1) }, 30*time.Second, 50*time.Millisecond)
	require.Equal(t, http.StatusOK, status(port, "/readyz"))

	s.StopKafka()
	assert.Eventually(t, func() bool { return status(port, "/readyz") == http.StatusServiceUnavailable }, 10*time.Second, 100*time.Millisecond)
	// Long enough for kafka-go to give up its own retries and report errors to the loop.
	time.Sleep(8 * time.Second)
	require.False(t, consumer.Exited(), "the consumer must ride out a broker outage")
	assert.Contains(t, logs.String(), "fetch failed; retrying")

	require.NoError(t, s.StartKafka(context.Background()))
	publishVersion(t, s, 30, 2)
	assert.Eventually(t, func() bool { return atVersion(s, 30, 2) }, 60*time.Second, 100*time.Millisecond, "the consumer did not resume by itself")
	assert.Eventually(t, func() bool { return status(port, "/readyz") == http.StatusOK }, 10*time.Second, 100*time.Millisecond)
	waitNoLag(t, s, 30*time.Second)
}

func TestStoreOutage(t *testing.T) {
	tests := []struct {
		name        string
		stop, start func(t *testing.T, s *devenv.Stack)
	}{
		{
			name:  "hung (SIGSTOP)",
			stop:  func(t *testing.T, s *devenv.Stack) { require.NoError(t, s.Dynalite.Pause()) },
			start: func(t *testing.T, s *devenv.Stack) { require.NoError(t, s.Dynalite.Resume()) },
		},
		{
			name: "down (stopped, then started again on its data)",
			stop: func(_ *testing.T, s *devenv.Stack) { s.Dynalite.Stop() },
			start: func(t *testing.T, s *devenv.Stack) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				require.NoError(t, s.StartDynalite(ctx))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := logtest.New(t)
			s := startStack(t, logs, func(o *devenv.Options) { o.DynaliteDataDir = t.TempDir() })
			port := devenvtest.FreePort(t)
			consumer := start(t, "consumer", s.ConsumerEnv(port), port, logs)

			publishVersion(t, s, 30, 1)
			waitNoLag(t, s, 30*time.Second)

			tt.stop(t, s)
			publishVersion(t, s, 30, 2)
			assert.Eventually(t, func() bool { return status(port, "/readyz") == http.StatusServiceUnavailable }, 15*time.Second, 100*time.Millisecond)
			// Several retry rounds (DDB_TIMEOUT=2s, RETRY_MAX_BACKOFF=500ms) and commit intervals.
			time.Sleep(5 * time.Second)
			assert.Equal(t, int64(30), lag(t, s), "nothing may be committed past an event that was not applied")
			assert.False(t, consumer.Exited(), "the consumer must ride out a store outage")

			tt.start(t, s)
			assert.Eventually(t, func() bool { return atVersion(s, 30, 2) }, 60*time.Second, 100*time.Millisecond, "the consumer did not resume by itself")
			waitNoLag(t, s, 30*time.Second)
			assert.Eventually(t, func() bool { return status(port, "/readyz") == http.StatusOK }, 10*time.Second, 100*time.Millisecond)
			assert.Contains(t, logs.String(), "put failed; retrying")
		})
	}
}

func TestProducerShutdown(t *testing.T) {
	logs := logtest.New(t)
	s := startStack(t, logs)
	port := devenvtest.FreePort(t)
	producer := start(t, "producer", s.ProducerEnv(port, "SHUTDOWN_TIMEOUT=10s"), port, logs)

	// Hold the broker's answer to the next produce request, so a request is in flight when
	// SIGTERM arrives.
	held := make(chan struct{})
	s.Kafka.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		close(held)
		time.Sleep(time.Second)
		return nil, nil, false
	})
	answered := make(chan int, 1)
	go func() {
		resp, err := postProfile(port, "in-flight")
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-held
	began := time.Now()
	require.NoError(t, producer.Signal(syscall.SIGTERM))

	assert.Equal(t, http.StatusCreated, <-answered, "the in-flight request gets its ack")
	require.NoError(t, producer.Wait(12*time.Second), "exit status")
	assert.Less(t, time.Since(began), 10*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := broker.ReadAll(ctx, s.Cluster(), s.Topic)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, "in-flight", string(msgs[0].Key))
}

func TestConsumerShutdown(t *testing.T) {
	t.Run("commits what is final and leaves the group", func(t *testing.T) {
		logs := logtest.New(t)
		s := startStack(t, logs)
		port := devenvtest.FreePort(t)
		// A long session: if the group empties quickly, it is because the member left, not
		// because its session expired.
		consumer := start(t, "consumer", s.ConsumerEnv(port, "KAFKA_SESSION_TIMEOUT=60s", "COMMIT_INTERVAL=1h"), port, logs)
		publishVersion(t, s, 30, 1)
		require.Eventually(t, func() bool { return atVersion(s, 30, 1) }, 30*time.Second, 50*time.Millisecond)
		require.Equal(t, int64(30), lag(t, s), "COMMIT_INTERVAL=1h: only the shutdown commits")

		began := time.Now()
		require.NoError(t, consumer.Signal(syscall.SIGTERM))
		require.NoError(t, consumer.Wait(12*time.Second), "exit status")
		assert.Less(t, time.Since(began), 10*time.Second)

		assert.Equal(t, int64(0), lag(t, s), "the final commit covers everything applied")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		members, err := broker.Assignments(ctx, s.Cluster(), s.Group, s.Topic)
		require.NoError(t, err)
		assert.Empty(t, members, "the consumer left the group")
	})

	t.Run("stops within its bound while the store is down, committing nothing unapplied", func(t *testing.T) {
		logs := logtest.New(t)
		s := startStack(t, logs)
		port := devenvtest.FreePort(t)
		consumer := start(t, "consumer", s.ConsumerEnv(port, "SHUTDOWN_TIMEOUT=3s", "DDB_TIMEOUT=1500ms"), port, logs)
		publishVersion(t, s, 30, 1)
		waitNoLag(t, s, 30*time.Second)

		require.NoError(t, s.Dynalite.Pause())
		defer func() { _ = s.Dynalite.Resume() }()
		publishVersion(t, s, 30, 2)
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), "put failed; retrying") }, 15*time.Second, 50*time.Millisecond)

		began := time.Now()
		require.NoError(t, consumer.Signal(syscall.SIGTERM))
		require.NoError(t, consumer.Wait(10*time.Second), "exit status")
		assert.Less(t, time.Since(began), 5*time.Second, "SHUTDOWN_TIMEOUT is 3s")
		assert.Equal(t, int64(30), lag(t, s))
	})
}

// An outage that began before the producer ever reached the broker: kafka-go's Transport caches
// the failed first metadata lookup until its next refresh, which used to answer every publish
// with the cached dial error for up to MetadataTTL after the broker came back, while /readyz
// (which dials afresh) already said 200.
func TestProducerReadyMeansPublishable(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs without -short")
	}
	logs := logtest.New(t)
	kport, port := devenvtest.FreePort(t), devenvtest.FreePort(t)
	topic := "patient.profile.updated"
	start(t, "producer", []string{
		"SERVER_PORT=" + strconv.Itoa(port),
		"KAFKA_BROKERS=127.0.0.1:" + strconv.Itoa(kport),
		"TOPIC_NAME=" + topic,
		"PUBLISH_TIMEOUT=1s",
		// No key table: the broker alone decides readiness here.
		"IDEMPOTENCY_TABLE=",
	}, port, logs)

	resp, err := postProfile(port, "early")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "no broker yet")

	k, err := devenv.StartKafka(kport, "")
	require.NoError(t, err)
	t.Cleanup(k.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, broker.CreateTopics(ctx, broker.Cluster{Brokers: k.ListenAddrs()}, devenv.Partitions, topic))
	require.Eventually(t, func() bool { return status(port, "/readyz") == http.StatusOK }, 30*time.Second, 50*time.Millisecond)

	resp, err = postProfile(port, "first-after-ready")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "the first POST once /readyz says 200: %s", body)
}
