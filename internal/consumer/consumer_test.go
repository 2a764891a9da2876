package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

var t0 = time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)

func event(patient string, ms int) profile.Event {
	return profile.Event{EventID: fmt.Sprintf("e%d", ms), PatientID: patient, UpdatedAt: t0.Add(time.Duration(ms) * time.Millisecond)}
}

func msg(t *testing.T, partition int, offset int64, value string) message.Message {
	t.Helper()
	return message.Message{Topic: "patient.profile.updated", Partition: partition, Offset: offset, Value: []byte(value)}
}

func eventMsg(t *testing.T, partition int, offset int64, e profile.Event) message.Message {
	t.Helper()
	b, err := e.MarshalJSON()
	require.NoError(t, err)
	m := msg(t, partition, offset, string(b))
	m.Key = []byte(e.PatientID)
	return m
}

// errRejected stands for the store's permanent errors; testConfig tells the loop so, as the
// consumer binary does with store.IsRejected.
var errRejected = errors.New("rejected by the store")

var testConfig = Config{
	CommitInterval: 5 * time.Millisecond, AttemptTimeout: time.Second, MaxBackoff: 5 * time.Millisecond,
	ShutdownTimeout: 2 * time.Second, MaxClockSkew: 5 * time.Minute,
	Permanent: func(err error) bool { return errors.Is(err, errRejected) },
}

// runUntil runs the consumer until cond holds (or a deadline passes), then stops it and returns
// Run's error once it has returned.
func runUntil(t *testing.T, c *Consumer, cond func() bool) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	assert.Eventually(t, cond, 5*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
		return nil
	}
}

// discard is the loop's logger in tests: what it logs is not what they check.
var discard = slog.New(slog.DiscardHandler)

// withoutCommits is s with the commit count zeroed: how often the loop commits depends on timing.
func withoutCommits(s Stats) Stats {
	s.Commits = 0
	return s
}

func TestConsumerOutcomes(t *testing.T) {
	transient := errors.New("dial tcp 127.0.0.1:4566: connection refused")
	rejected := fmt.Errorf("put profile 1: %w: ValidationException: item too large", errRejected)

	tests := []struct {
		name  string
		msgs  func(t *testing.T) []message.Message
		setup func(s *fakeStore, d *fakeDeadLetters)
		// holds as in fakeReader: where a patient's events must not be coalesced
		holds      map[int]int
		wantCommit map[int]int64
		wantStats  Stats
		wantPuts   map[string][]profile.Event
		// wantParked is the start of each dead letter's reason, by offset
		wantParked map[int64]string
	}{
		{
			name: "applied and stale events are committed per partition",
			msgs: func(t *testing.T) []message.Message {
				return []message.Message{
					eventMsg(t, 0, 10, event("1", 2)), eventMsg(t, 1, 20, event("2", 1)), eventMsg(t, 0, 11, event("1", 1)),
				}
			},
			holds:      map[int]int{2: 1},
			wantCommit: map[int]int64{0: 12, 1: 21},
			wantStats:  Stats{Applied: 2, Stale: 1},
			wantPuts:   map[string][]profile.Event{"1": {event("1", 2), event("1", 1)}, "2": {event("2", 1)}},
		},
		{
			name: "a transient store error is retried in place, then committed",
			msgs: func(t *testing.T) []message.Message {
				return []message.Message{eventMsg(t, 0, 5, event("1", 1)), eventMsg(t, 0, 6, event("1", 2))}
			},
			setup: func(s *fakeStore, _ *fakeDeadLetters) {
				s.script[event("1", 1).EventID] = []error{transient, transient, transient}
			},
			holds:      map[int]int{1: 1},
			wantCommit: map[int]int64{0: 7},
			wantStats:  Stats{Applied: 2, Retries: 3},
			wantPuts: map[string][]profile.Event{
				"1": {event("1", 1), event("1", 1), event("1", 1), event("1", 1), event("1", 2)},
			},
		},
		{
			name: "poison is dead-lettered with its decode error, then committed",
			msgs: func(t *testing.T) []message.Message {
				return []message.Message{
					msg(t, 2, 0, `not json`), msg(t, 2, 1, `{"UpdatedAt":"2026-01-02T05:00:00Z"}`), eventMsg(t, 2, 2, event("3", 1)),
				}
			},
			wantCommit: map[int]int64{2: 3},
			wantStats:  Stats{Applied: 1, DeadLettered: 2},
			wantPuts:   map[string][]profile.Event{"3": {event("3", 1)}},
			wantParked: map[int64]string{
				0: "decode event: ",
				1: "decode event: PatientId: missing or empty",
			},
		},
		{
			name: "an event the store rejects is dead-lettered, not retried forever",
			msgs: func(t *testing.T) []message.Message { return []message.Message{eventMsg(t, 0, 0, event("1", 1))} },
			setup: func(s *fakeStore, _ *fakeDeadLetters) {
				s.rejects[event("1", 1).EventID] = rejected
			},
			wantCommit: map[int]int64{0: 1},
			wantStats:  Stats{DeadLettered: 1},
			wantPuts:   map[string][]profile.Event{"1": {event("1", 1)}},
			wantParked: map[int64]string{0: rejected.Error()},
		},
		{
			name:       "a failed dead-letter publish is retried and nothing is committed until it succeeds",
			msgs:       func(t *testing.T) []message.Message { return []message.Message{msg(t, 0, 0, `{`)} },
			setup:      func(_ *fakeStore, d *fakeDeadLetters) { d.fail = 2 },
			wantCommit: map[int]int64{0: 1},
			wantStats:  Stats{DeadLettered: 1, Retries: 2},
			wantPuts:   map[string][]profile.Event{},
			wantParked: map[int64]string{0: "decode event: "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeReader{msgs: tt.msgs(t), holds: tt.holds}
			s, d := newFakeStore(0), &fakeDeadLetters{}
			if tt.setup != nil {
				tt.setup(s, d)
			}
			c := New(discard, r, s, d, testConfig)

			err := runUntil(t, c, func() bool { return assert.ObjectsAreEqual(tt.wantCommit, r.committed()) })

			require.NoError(t, err)
			assert.Equal(t, tt.wantCommit, r.committed())
			assert.Equal(t, tt.wantStats, withoutCommits(c.Stats()))
			for patient, want := range tt.wantPuts {
				assert.Equal(t, want, s.putsOf(patient), "the writes of patient %s", patient)
			}
			reasons := d.reasons()
			assert.Len(t, reasons, len(tt.wantParked))
			for offset, want := range tt.wantParked {
				assert.True(t, strings.HasPrefix(reasons[offset], want), "offset %d parked with %q, want %q...", offset, reasons[offset], want)
			}
		})
	}
}

// After a rebalance a reader can hand out messages from before it, with offsets below what was
// already handled and committed. They must not overwrite newer data (the store's condition makes
// them stale) and must not rewind the group's offset.
func TestConsumerStaleRedeliveryAfterRebalance(t *testing.T) {
	r := &fakeReader{msgs: []message.Message{
		eventMsg(t, 0, 10, event("1", 2)), eventMsg(t, 0, 11, event("1", 3)),
		// the stale queue: fetched before the rebalance, handed out after
		eventMsg(t, 0, 9, event("1", 1)), eventMsg(t, 0, 10, event("1", 2)),
		eventMsg(t, 0, 12, event("1", 4)),
	}, holds: map[int]int{1: 1, 2: 2, 4: 3}} // 10 and 11 apart, a commit before the stale ones, and maybe one after
	s := newFakeStore(0)
	c := New(discard, r, s, &fakeDeadLetters{}, testConfig)

	require.NoError(t, runUntil(t, c, func() bool { return r.committed()[0] == 13 }))

	var prev int64
	for _, batch := range r.commits {
		for _, m := range batch {
			assert.GreaterOrEqual(t, m.Offset+1, prev, "the committed offset went back")
			prev = m.Offset + 1
		}
	}
	assert.Equal(t, event("1", 4), s.row("1"))
	st := c.Stats()
	assert.Equal(t, int64(3), st.Applied)
	// Events of the patient fetched together are coalesced: the newest is written, the others
	// superseded. The redelivered pair is stale, or superseded.
	assert.Equal(t, int64(2), st.Stale+st.Superseded, "the redelivered pair")
	assert.Zero(t, st.DeadLettered+st.Retries)
}

func TestConsumerNeverCommitsPastAnUnappliedEvent(t *testing.T) {
	tests := []struct {
		name  string
		msgs  func(t *testing.T) []message.Message
		setup func(s *fakeStore, d *fakeDeadLetters)
	}{
		{
			name: "store down",
			msgs: func(t *testing.T) []message.Message {
				return []message.Message{
					eventMsg(t, 0, 0, event("1", 1)), eventMsg(t, 0, 1, event("1", 2)), eventMsg(t, 0, 2, event("1", 3)),
					eventMsg(t, 1, 0, event("2", 1)),
				}
			},
			// Offsets 1 and 2 are one patient's: whether they are written one by one or
			// coalesced, the write of offset 1 or of the pair fails.
			setup: func(s *fakeStore, _ *fakeDeadLetters) {
				s.rejects[event("1", 2).EventID] = errors.New("connection refused")
				s.rejects[event("1", 3).EventID] = errors.New("connection refused")
			},
		},
		{
			name: "dead-letter topic down",
			msgs: func(t *testing.T) []message.Message {
				return []message.Message{
					eventMsg(t, 0, 0, event("1", 1)), msg(t, 0, 1, `poison`), eventMsg(t, 0, 2, event("1", 3)),
					eventMsg(t, 1, 0, event("2", 1)),
				}
			},
			setup: func(_ *fakeStore, d *fakeDeadLetters) { d.down = errors.New("broker down") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Offset 0 is applied alone (and committed) before the rest is fetched.
			r := &fakeReader{msgs: tt.msgs(t), holds: map[int]int{1: 1}}
			s, d := newFakeStore(0), &fakeDeadLetters{}
			tt.setup(s, d)
			c := New(discard, r, s, d, testConfig)

			// Partition 1 is not held up by partition 0's failure; partition 0 stays at offset 1
			// while its second message fails, however long that lasts, even where offset 2 is
			// final.
			err := runUntil(t, c, func() bool {
				got := r.committed()
				return got[0] == 1 && got[1] == 1 && c.Stats().Retries >= 20
			})

			require.NoError(t, err)
			assert.Equal(t, map[int]int64{0: 1, 1: 1}, r.committed(),
				"offset 0/1 was never applied, so nothing at or above it may be committed")
			assert.Equal(t, event("2", 1), s.row("2"))
		})
	}
}

func TestConsumerFetchErrors(t *testing.T) {
	t.Run("a broker outage surfaced by the reader is waited out", func(t *testing.T) {
		down := errors.New("dial tcp 127.0.0.1:9092: connect: connection refused")
		r := &fakeReader{fetchErrs: []error{down, down, down, down, errors.New("group coordinator not available")},
			msgs: []message.Message{eventMsg(t, 0, 0, event("1", 1))}}
		s := newFakeStore(0)
		c := New(discard, r, s, &fakeDeadLetters{}, testConfig)

		require.NoError(t, runUntil(t, c, func() bool { return r.committed()[0] == 1 }))
		assert.Equal(t, event("1", 1), s.row("1"))
	})

	t.Run("a closed reader ends the run with an error", func(t *testing.T) {
		r := &fakeReader{fetchErrs: []error{fmt.Errorf("fetch: %w", message.ErrClosed)}}
		c := New(discard, r, newFakeStore(0), &fakeDeadLetters{}, testConfig)

		err := c.Run(context.Background())
		require.Error(t, err)
		assert.ErrorIs(t, err, message.ErrClosed)
	})
}

func TestConsumerShutdown(t *testing.T) {
	t.Run("an in-flight write completes and is committed", func(t *testing.T) {
		// The second event is fetched once the first is in hand, so the two are not coalesced.
		r := &fakeReader{msgs: []message.Message{eventMsg(t, 0, 0, event("1", 1)), eventMsg(t, 0, 1, event("1", 2))},
			holds: map[int]int{1: 1}}
		s := newFakeStore(0)
		release := s.gate("1")
		cfg := testConfig
		cfg.CommitInterval = time.Hour // only the final commit can commit it
		c := New(discard, r, s, &fakeDeadLetters{}, cfg)

		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.Run(ctx) }()
		require.Eventually(t, func() bool { return s.inHand() == 1 }, 5*time.Second, time.Millisecond)
		cancel()
		time.AfterFunc(100*time.Millisecond, release) // still running when shutdown begins

		require.NoError(t, <-errc)
		assert.Equal(t, map[int]int64{0: 1}, r.committed(),
			"the event written during shutdown is committed, the next one is not")
	})

	t.Run("a hung store does not hold shutdown past its bound", func(t *testing.T) {
		r := &fakeReader{msgs: []message.Message{eventMsg(t, 0, 0, event("1", 1))}}
		s := newFakeStore(0)
		s.hung = true
		cfg := testConfig
		cfg.AttemptTimeout = time.Minute
		cfg.ShutdownTimeout = 200 * time.Millisecond
		c := New(discard, r, s, &fakeDeadLetters{}, cfg)

		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.Run(ctx) }()
		require.Eventually(t, func() bool { return s.inHand() == 1 }, time.Second, time.Millisecond)
		start := time.Now()
		cancel()

		select {
		case err := <-errc:
			require.NoError(t, err)
			assert.Less(t, time.Since(start), 2*time.Second)
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return within its shutdown bound")
		}
		assert.Empty(t, r.committed())
	})

	t.Run("a failed commit is retried at the next interval", func(t *testing.T) {
		r := &fakeReader{msgs: []message.Message{eventMsg(t, 0, 0, event("1", 1)), eventMsg(t, 0, 1, event("2", 1))},
			failCommits: 2}
		c := New(discard, r, newFakeStore(0), &fakeDeadLetters{}, testConfig)

		// Nothing becomes final after the failures, so only a retry of the failed commit can
		// commit offset 2.
		require.NoError(t, runUntil(t, c, func() bool { return r.committed()[0] == 2 }))
		assert.Equal(t, map[int]int64{0: 2}, r.committed())
		assert.Equal(t, int64(2), c.Stats().CommitFailures)
	})

	t.Run("a failed final commit is reported, not hidden", func(t *testing.T) {
		r := &fakeReader{msgs: []message.Message{eventMsg(t, 0, 0, event("1", 1))},
			commitErr: errors.New("coordinator unavailable")}
		c := New(discard, r, newFakeStore(0), &fakeDeadLetters{}, testConfig)

		require.NoError(t, runUntil(t, c, func() bool { return c.Stats().Applied == 1 }))
		assert.Empty(t, r.committed())
		assert.Zero(t, c.Stats().Commits)
	})
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt  int
		max      time.Duration
		low, top time.Duration
	}{
		{0, 5 * time.Second, 50 * time.Millisecond, 100 * time.Millisecond},
		{3, 5 * time.Second, 400 * time.Millisecond, 800 * time.Millisecond},
		{10, 5 * time.Second, 2500 * time.Millisecond, 5 * time.Second},
		{1000, 5 * time.Second, 2500 * time.Millisecond, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempt), func(t *testing.T) {
			for range 100 {
				d := backoff(tt.attempt, tt.max)
				assert.GreaterOrEqual(t, d, tt.low)
				assert.LessOrEqual(t, d, tt.top)
			}
		})
	}
}

// A dial of the broker and a DescribeTable succeed while writes are throttled or commits fail:
// the loop's own Ping must say so, and recover with it.
func TestConsumerPing(t *testing.T) {
	throttled := errors.New("ThrottlingException: rate exceeded")
	tests := []struct {
		name    string
		breakIt func(r *fakeReader, s *fakeStore)
		fixIt   func(r *fakeReader, s *fakeStore)
		wantErr string
	}{
		{
			name:    "store writes failing",
			breakIt: func(_ *fakeReader, s *fakeStore) { s.setDown(throttled) },
			fixIt:   func(_ *fakeReader, s *fakeStore) { s.setDown(nil) },
			wantErr: "partition 3 retrying: put: ThrottlingException: rate exceeded",
		},
		{
			name:    "commits failing",
			breakIt: func(r *fakeReader, _ *fakeStore) { r.setCommitErr(errors.New("not coordinator for group")) },
			fixIt:   func(r *fakeReader, _ *fakeStore) { r.setCommitErr(nil) },
			wantErr: "commit 1 partitions",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeReader{msgs: []message.Message{eventMsg(t, 3, 0, event("1", 1))}}
			s := newFakeStore(0)
			tt.breakIt(r, s)
			c := New(discard, r, s, &fakeDeadLetters{}, testConfig)
			require.NoError(t, c.Ping(context.Background()), "ready before it has seen anything")

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- c.Run(ctx) }()
			require.Eventually(t, func() bool {
				err := c.Ping(ctx)
				return err != nil && strings.Contains(err.Error(), tt.wantErr)
			}, 5*time.Second, time.Millisecond, "got %v, want an error with %q", c.Ping(ctx), tt.wantErr)

			tt.fixIt(r, s)
			assert.Eventually(t, func() bool { return c.Ping(ctx) == nil && r.committed()[3] == 1 },
				5*time.Second, time.Millisecond, "still %v", c.Ping(ctx))
			cancel()
			require.NoError(t, <-errc)
		})
	}
}

// Lag per partition is what was behind the last message brought to a final outcome: the high
// watermark a fetched message carries, less its offset, less one.
func TestConsumerLag(t *testing.T) {
	withHWM := func(m message.Message, hwm int64) message.Message { m.HighWaterMark = hwm; return m }
	r := &fakeReader{msgs: []message.Message{
		withHWM(eventMsg(t, 0, 10, event("1", 1)), 20),
		withHWM(eventMsg(t, 0, 11, event("1", 2)), 25), // more arrived meanwhile
		withHWM(eventMsg(t, 1, 4, event("2", 1)), 5),   // caught up
		withHWM(msg(t, 2, 7, `poison`), 9),             // dead-lettered is final too
	}}
	c := New(discard, r, newFakeStore(0), &fakeDeadLetters{}, testConfig)

	want := map[int]int64{0: 13, 1: 0, 2: 1}
	require.NoError(t, runUntil(t, c, func() bool { return assert.ObjectsAreEqual(want, c.Lag()) }))
	assert.Equal(t, want, c.Lag())
}

// ages records what ObserveAge was told, by outcome.
type ages struct {
	mu sync.Mutex
	by map[string][]time.Duration
}

func (a *ages) observe(outcome string, age time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.by[outcome] = append(a.by[outcome], age)
}

func (a *ages) count() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := map[string]int{}
	for outcome, v := range a.by {
		n[outcome] = len(v)
	}
	return n
}

// Every event brought to a final outcome is dated once, with that outcome, from the consumer's
// clock: applied, stale, superseded and dead-lettered (by the store). Poison and Kafka tombstones
// have no date. An event a little from the future (within MaxClockSkew) is 0 s old.
func TestConsumerObservesEventAge(t *testing.T) {
	now := time.Now()
	at := func(patient, id string, age time.Duration) profile.Event {
		return profile.Event{EventID: id, PatientID: patient, UpdatedAt: now.Add(-age)}
	}
	st := newFakeStore(0)
	st.rows["stale"] = at("stale", "newer", 0)
	st.rejects["rejected"] = fmt.Errorf("put profile: %w", errRejected)
	release := st.gate("burst")
	defer release()
	msgs := []message.Message{
		eventMsg(t, 0, 0, at("burst", "b1", 3*time.Second)), // in hand while the next two wait
		eventMsg(t, 0, 1, at("burst", "b2", 2*time.Second)), // superseded by b3
		eventMsg(t, 0, 2, at("burst", "b3", time.Second)),
		eventMsg(t, 1, 0, at("stale", "older", time.Hour)),
		eventMsg(t, 1, 1, at("rejected", "rejected", time.Minute)),
		eventMsg(t, 1, 2, at("future", "f", -time.Minute)),
		msg(t, 1, 3, `poison`),
		{Topic: "patient.profile.updated", Partition: 1, Offset: 4, Key: []byte("gone")}, // a Kafka tombstone
	}
	r := &fakeReader{msgs: msgs, until: map[int]func() bool{1: func() bool { return len(st.putsOf("burst")) == 1 }}}
	got := &ages{by: map[string][]time.Duration{}}
	cfg := testConfig
	cfg.ObserveAge = got.observe
	c := New(discard, r, st, &fakeDeadLetters{}, cfg)

	require.NoError(t, runUntil(t, c, func() bool {
		if c.waiting("burst") == 2 {
			release()
		}
		return assert.ObjectsAreEqual(map[int]int64{0: 3, 1: 5}, r.committed())
	}))

	assert.Equal(t, map[string]int{OutcomeApplied: 3, OutcomeSuperseded: 1, OutcomeStale: 1, OutcomeDeadLettered: 1},
		got.count())
	within := func(outcome string, i int, want time.Duration) {
		t.Helper()
		age := got.by[outcome][i]
		// The run takes well under 5 s; an age is never less than the event's age at the start.
		assert.True(t, age >= want && age < want+5*time.Second, "%s #%d: got age %s, want %s or a little more",
			outcome, i, age, want)
	}
	slices.Sort(got.by[OutcomeApplied]) // the future event's, b3's, b1's
	assert.Zero(t, got.by[OutcomeApplied][0], "an event from within the clock skew")
	within(OutcomeApplied, 1, time.Second)
	within(OutcomeApplied, 2, 3*time.Second)
	within(OutcomeSuperseded, 0, 2*time.Second)
	within(OutcomeStale, 0, time.Hour)
	within(OutcomeDeadLettered, 0, time.Minute)
}
