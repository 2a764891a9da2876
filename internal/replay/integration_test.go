package replay_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/consumer"
	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/replay"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// refusingTable is the real table behind a rule that refuses one patient's events for what they
// are, until a person changes the rule: the situation a replay is for. The value was fine all
// along; only the verdict was wrong.
type refusingTable struct {
	*store.Table
	patient string
	refuse  atomic.Bool
}

func (r *refusingTable) Put(ctx context.Context, e profile.Event) (bool, error) {
	if r.refuse.Load() && e.PatientID == r.patient {
		return false, fmt.Errorf("put profile %s: %w: refused by the rule in force", e.PatientID, store.ErrRejected)
	}
	return r.Table.Put(ctx, e)
}

func TestReplayedEventReachesTheTableOnceTheCauseIsFixed(t *testing.T) {
	s := devenvtest.Stack(t, io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	table := &refusingTable{Table: s.Store, patient: "p1"}
	table.refuse.Store(true)
	c := startConsumer(t, s, table)

	event := profile.Event{EventID: "e1", PatientID: "p1", FirstName: "Ada", UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 500, time.UTC)}
	value, err := event.MarshalJSON()
	require.NoError(t, err)
	w := broker.NewWriter(s.Cluster(), s.Topic)
	defer w.Close(context.Background())
	require.NoError(t, w.Write(ctx, message.Message{Key: []byte("p1"), Value: value}))
	waitNoLag(t, s)
	require.Len(t, readAll(t, s, s.DLQTopic), 1, "the refused event is parked")
	assert.Equal(t, consumer.Stats{DeadLettered: 1}, counts(c))

	replayP1 := func(dryRun bool) replay.Summary {
		t.Helper()
		f := replay.All
		f.Patient = "p1"
		read := func(ctx context.Context, fn func(message.Message) error) error {
			return broker.ReadTopic(ctx, s.Cluster(), s.DLQTopic, fn)
		}
		sum, err := replay.Run(ctx, replay.Config{Topic: s.Topic, Filter: f, DryRun: dryRun}, read, w, io.Discard)
		require.NoError(t, err)
		return sum
	}

	// A dry run says what it would do and does nothing.
	assert.Equal(t, replay.Summary{Read: 1, Chosen: 1, Replayed: 1, DryRun: true}, replayP1(true))
	assert.Len(t, readAll(t, s, s.Topic), 1, "a dry run publishes nothing")

	// The rule is changed; the replay brings the event to the table.
	table.refuse.Store(false)
	assert.Equal(t, replay.Summary{Read: 1, Chosen: 1, Replayed: 1}, replayP1(false))
	waitNoLag(t, s)
	got, ok, err := s.Store.Get(ctx, "p1")
	require.NoError(t, err)
	require.True(t, ok, "the replayed event reached the table")
	assert.Equal(t, event.OrderKey(), got.OrderKey())
	assert.Equal(t, "Ada", got.FirstName)
	assert.Equal(t, consumer.Stats{DeadLettered: 1, Applied: 1}, counts(c))

	events := readAll(t, s, s.Topic)
	require.Len(t, events, 2)
	dead := readAll(t, s, s.DLQTopic)[0]
	h := map[string]string{}
	for _, hd := range events[1].Headers {
		h[hd.Key] = string(hd.Value)
	}
	assert.Equal(t, map[string]string{
		deadletter.HeaderReplayedFrom: fmt.Sprintf("%s/%d/%d", s.DLQTopic, dead.Partition, dead.Offset),
		deadletter.HeaderReplaySource: fmt.Sprintf("%s/%d/%d", s.Topic, events[0].Partition, events[0].Offset),
	}, h, "the replayed event says it is one and where it came from")

	// Replaying again changes nothing: the consumer finds the event stale.
	assert.Equal(t, replay.Summary{Read: 1, Chosen: 1, Replayed: 1}, replayP1(false))
	waitNoLag(t, s)
	again, ok, err := s.Store.Get(ctx, "p1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, got, again, "the row is unchanged")
	assert.Equal(t, consumer.Stats{DeadLettered: 1, Applied: 1, Stale: 1}, counts(c))
	assert.Len(t, readAll(t, s, s.DLQTopic), 1, "nothing was parked again")
}

func startConsumer(t *testing.T, s *devenv.Stack, table *refusingTable) *consumer.Consumer {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	reader := broker.NewReader(broker.ReaderConfig{Cluster: s.Cluster(), Topic: s.Topic, Group: s.Group, SessionTimeout: 3 * time.Second})
	dlq := broker.NewDeadLetters(s.Cluster(), s.DLQTopic)
	c := consumer.New(logger, reader, table, dlq, consumer.Config{
		CommitInterval: 100 * time.Millisecond, AttemptTimeout: 2 * time.Second, MaxBackoff: 200 * time.Millisecond,
		ShutdownTimeout: 5 * time.Second, Permanent: store.IsRejected,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
		_ = reader.Close(context.Background())
		_ = dlq.Close(context.Background())
	})
	return c
}

// counts is the consumer's outcome counts, without the bookkeeping ones.
func counts(c *consumer.Consumer) consumer.Stats {
	s := c.Stats()
	s.Retries, s.Commits = 0, 0
	return s
}

func waitNoLag(t *testing.T, s *devenv.Stack) {
	t.Helper()
	require.NoError(t, s.WaitNoLag(context.Background(), 30*time.Second))
}

func readAll(t *testing.T, s *devenv.Stack, topic string) []message.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := broker.ReadAll(ctx, s.Cluster(), topic)
	require.NoError(t, err)
	return msgs
}
