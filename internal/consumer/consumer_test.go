package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// fakeReader hands out msgs in order, then blocks like a reader with nothing to fetch. It
// records every commit. fetchErrs are returned first, one per fetch, as kafka-go surfaces
// errors it is recovering from.
type fakeReader struct {
	mu        sync.Mutex
	fetchErrs []error
	msgs      []kafka.Message
	commits   [][]kafka.Message
	commitErr error
	// failCommits makes that many commits fail before they succeed.
	failCommits int
	// holds makes the fetch after that many messages wait (up to 200ms) until that many
	// commits have happened, to place a commit between two fetches.
	holds map[int]int
	// until makes the fetch after that many messages wait (up to 2s) until the func holds, to
	// keep two events of one patient from being fetched together and coalesced.
	until   map[int]func() bool
	fetched int
}

func (r *fakeReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	r.mu.Lock()
	if len(r.fetchErrs) > 0 {
		err := r.fetchErrs[0]
		r.fetchErrs = r.fetchErrs[1:]
		r.mu.Unlock()
		return kafka.Message{}, err
	}
	if n, ok := r.holds[r.fetched]; ok {
		for deadline := time.Now().Add(200 * time.Millisecond); len(r.commits) < n && ctx.Err() == nil && time.Now().Before(deadline); {
			r.mu.Unlock()
			time.Sleep(time.Millisecond)
			r.mu.Lock()
		}
	}
	if cond, ok := r.until[r.fetched]; ok {
		for deadline := time.Now().Add(2 * time.Second); ctx.Err() == nil && time.Now().Before(deadline); {
			r.mu.Unlock()
			done := cond()
			if !done {
				time.Sleep(time.Millisecond)
			}
			r.mu.Lock()
			if done {
				break
			}
		}
	}
	if len(r.msgs) > 0 {
		r.fetched++
		m := r.msgs[0]
		r.msgs = r.msgs[1:]
		r.mu.Unlock()
		return m, nil
	}
	r.mu.Unlock()
	<-ctx.Done()
	return kafka.Message{}, ctx.Err()
}

func (r *fakeReader) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.commitErr != nil {
		return r.commitErr
	}
	if r.failCommits > 0 {
		r.failCommits--
		return errors.New("rebalance in progress")
	}
	r.commits = append(r.commits, msgs)
	return nil
}

// committed returns the next offset to read per partition, as the broker would hold it.
func (r *fakeReader) committed() map[int]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := map[int]int64{}
	for _, c := range r.commits {
		for _, m := range c {
			got[m.Partition] = m.Offset + 1
		}
	}
	return got
}

func (r *fakeReader) drained() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs) == 0
}

var t0 = time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)

func event(patient string, ms int) profile.Event {
	return profile.Event{EventID: fmt.Sprintf("e%d", ms), PatientID: patient, UpdatedAt: t0.Add(time.Duration(ms) * time.Millisecond)}
}

func msg(t *testing.T, partition int, offset int64, value string) kafka.Message {
	t.Helper()
	return kafka.Message{Topic: "patient.profile.updated", Partition: partition, Offset: offset, Value: []byte(value)}
}

func eventMsg(t *testing.T, partition int, offset int64, e profile.Event) kafka.Message {
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

var testConfig = Config{CommitInterval: 5 * time.Millisecond, AttemptTimeout: time.Second, MaxBackoff: 5 * time.Millisecond, ShutdownTimeout: 2 * time.Second, MaxClockSkew: 5 * time.Minute,
	Permanent: func(err error) bool { return errors.Is(err, errRejected) }}

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

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestConsumerOutcomes(t *testing.T) {
	transient := errors.New("dial tcp 127.0.0.1:4566: connection refused")
	rejected := fmt.Errorf("put profile 1: %w: ValidationException: item too large", errRejected)

	tests := []struct {
		name         string
		msgs         func(t *testing.T) []kafka.Message
		setup        func(w *mockProfileWriter, d *mockDeadLetterer)
		wantCommit   map[int]int64
		wantStats    Stats
		stopWhenDone bool
		// holds as in fakeReader: where a patient's events must not be coalesced
		holds map[int]int
	}{
		{
			name: "applied and stale events are committed per partition",
			msgs: func(t *testing.T) []kafka.Message {
				return []kafka.Message{eventMsg(t, 0, 10, event("1", 2)), eventMsg(t, 1, 20, event("2", 1)), eventMsg(t, 0, 11, event("1", 1))}
			},
			setup: func(w *mockProfileWriter, d *mockDeadLetterer) {
				w.EXPECT().Put(mock.Anything, event("1", 2)).Return(true, nil).Once()
				w.EXPECT().Put(mock.Anything, event("2", 1)).Return(true, nil).Once()
				w.EXPECT().Put(mock.Anything, event("1", 1)).Return(false, nil).Once()
			},
			wantCommit: map[int]int64{0: 12, 1: 21},
			wantStats:  Stats{Applied: 2, Stale: 1},
			holds:      map[int]int{2: 1},
		},
		{
			name: "a transient store error is retried in place, then committed",
			msgs: func(t *testing.T) []kafka.Message {
				return []kafka.Message{eventMsg(t, 0, 5, event("1", 1)), eventMsg(t, 0, 6, event("1", 2))}
			},
			setup: func(w *mockProfileWriter, d *mockDeadLetterer) {
				w.EXPECT().Put(mock.Anything, event("1", 1)).Return(false, transient).Times(3)
				w.EXPECT().Put(mock.Anything, event("1", 1)).Return(true, nil).Once()
				w.EXPECT().Put(mock.Anything, event("1", 2)).Return(true, nil).Once()
			},
			wantCommit: map[int]int64{0: 7},
			wantStats:  Stats{Applied: 2, Retries: 3},
			holds:      map[int]int{1: 1},
		},
		{
			name: "poison is dead-lettered with its decode error, then committed",
			msgs: func(t *testing.T) []kafka.Message {
				return []kafka.Message{msg(t, 2, 0, `not json`), msg(t, 2, 1, `{"UpdatedAt":"2026-01-02T05:00:00Z"}`), eventMsg(t, 2, 2, event("3", 1))}
			},
			setup: func(w *mockProfileWriter, d *mockDeadLetterer) {
				d.EXPECT().Send(mock.Anything, mock.MatchedBy(func(m kafka.Message) bool { return m.Offset == 0 }),
					mock.MatchedBy(func(err error) bool { return err != nil })).Return(nil).Once()
				d.EXPECT().Send(mock.Anything, mock.MatchedBy(func(m kafka.Message) bool { return m.Offset == 1 }),
					mock.MatchedBy(func(err error) bool {
						return assert.ObjectsAreEqual("decode event: PatientId: missing or empty", err.Error())
					})).Return(nil).Once()
				w.EXPECT().Put(mock.Anything, event("3", 1)).Return(true, nil).Once()
			},
			wantCommit: map[int]int64{2: 3},
			wantStats:  Stats{Applied: 1, DeadLettered: 2},
		},
		{
			name: "an event the store rejects is dead-lettered, not retried forever",
			msgs: func(t *testing.T) []kafka.Message { return []kafka.Message{eventMsg(t, 0, 0, event("1", 1))} },
			setup: func(w *mockProfileWriter, d *mockDeadLetterer) {
				w.EXPECT().Put(mock.Anything, event("1", 1)).Return(false, rejected).Once()
				d.EXPECT().Send(mock.Anything, mock.Anything, rejected).Return(nil).Once()
			},
			wantCommit: map[int]int64{0: 1},
			wantStats:  Stats{DeadLettered: 1},
		},
		{
			name: "a failed dead-letter publish is retried and nothing is committed until it succeeds",
			msgs: func(t *testing.T) []kafka.Message { return []kafka.Message{msg(t, 0, 0, `{`)} },
			setup: func(w *mockProfileWriter, d *mockDeadLetterer) {
				d.EXPECT().Send(mock.Anything, mock.Anything, mock.Anything).Return(errors.New("dlq broker down")).Times(2)
				d.EXPECT().Send(mock.Anything, mock.Anything, mock.Anything).Return(nil).Once()
			},
			wantCommit: map[int]int64{0: 1},
			wantStats:  Stats{DeadLettered: 1, Retries: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeReader{msgs: tt.msgs(t), holds: tt.holds}
			w, d := newMockProfileWriter(t), newMockDeadLetterer(t)
			tt.setup(w, d)
			c := New(quietLogger(), r, w, d, testConfig)

			err := runUntil(t, c, func() bool { return assert.ObjectsAreEqual(tt.wantCommit, r.committed()) })

			require.NoError(t, err)
			assert.Equal(t, tt.wantCommit, r.committed())
			got := c.Stats()
			got.Commits = 0
			assert.Equal(t, tt.wantStats, got)
		})
	}
}

// kafka-go #1398: after a rebalance the Reader can return messages from before it, with offsets
// below what was already handled and committed. They must not overwrite newer data (the store's
// condition makes them stale) and must not rewind the group's offset.
func TestConsumerStaleRedeliveryAfterRebalance(t *testing.T) {
	r := &fakeReader{msgs: []kafka.Message{
		eventMsg(t, 0, 10, event("1", 2)), eventMsg(t, 0, 11, event("1", 3)),
		// the stale queue: fetched before the rebalance, handed out after
		eventMsg(t, 0, 9, event("1", 1)), eventMsg(t, 0, 10, event("1", 2)),
		eventMsg(t, 0, 12, event("1", 4)),
	}, holds: map[int]int{1: 1, 2: 2, 4: 3}} // offsets 10 and 11 apart, a commit before the stale ones, and a chance of one after
	w, d := newMockProfileWriter(t), newMockDeadLetterer(t)
	w.EXPECT().Put(mock.Anything, event("1", 2)).Return(true, nil).Once()
	w.EXPECT().Put(mock.Anything, event("1", 3)).Return(true, nil).Once()
	// Events of the patient fetched together are coalesced: the newest is written, the others
	// superseded. The redelivered pair is stale, or superseded.
	w.EXPECT().Put(mock.Anything, event("1", 1)).Return(false, nil).Maybe()
	w.EXPECT().Put(mock.Anything, event("1", 2)).Return(false, nil).Maybe()
	w.EXPECT().Put(mock.Anything, event("1", 4)).Return(true, nil).Once()
	c := New(quietLogger(), r, w, d, testConfig)

	require.NoError(t, runUntil(t, c, func() bool { return r.committed()[0] == 13 }))

	var prev int64
	for _, batch := range r.commits {
		for _, m := range batch {
			assert.GreaterOrEqual(t, m.Offset+1, prev, "the committed offset went back")
			prev = m.Offset + 1
		}
	}
	s := c.Stats()
	assert.Equal(t, int64(3), s.Applied)
	assert.Equal(t, int64(2), s.Stale+s.Superseded, "the redelivered pair")
	assert.Zero(t, s.DeadLettered+s.Retries)
}

func TestConsumerNeverCommitsPastAnUnappliedEvent(t *testing.T) {
	tests := []struct {
		name     string
		failWith error
	}{
		{"store down", errors.New("connection refused")},
		{"dead-letter topic down", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msgs []kafka.Message
			if tt.failWith != nil {
				msgs = []kafka.Message{eventMsg(t, 0, 0, event("1", 1)), eventMsg(t, 0, 1, event("1", 2)), eventMsg(t, 0, 2, event("1", 3)), eventMsg(t, 1, 0, event("2", 1))}
			} else {
				msgs = []kafka.Message{eventMsg(t, 0, 0, event("1", 1)), msg(t, 0, 1, `poison`), eventMsg(t, 0, 2, event("1", 3)), eventMsg(t, 1, 0, event("2", 1))}
			}
			r := &fakeReader{msgs: msgs}
			w, d := newMockProfileWriter(t), newMockDeadLetterer(t)
			// Offset 0 is applied alone (and committed) before the rest is fetched.
			r.holds = map[int]int{1: 1}
			w.EXPECT().Put(mock.Anything, event("1", 1)).Return(true, nil).Once()
			if tt.failWith != nil {
				// Offsets 1 and 2 are one patient's: whether they are written one by one or
				// coalesced, the write of offset 1 or of the pair fails.
				w.EXPECT().Put(mock.Anything, mock.MatchedBy(func(e profile.Event) bool { return e != event("1", 1) && e.PatientID == "1" })).Return(false, tt.failWith)
			} else {
				d.EXPECT().Send(mock.Anything, mock.Anything, mock.Anything).Return(errors.New("broker down"))
				// The poison holds no patient back, only the commit.
				w.EXPECT().Put(mock.Anything, event("1", 3)).Return(true, nil).Once()
			}
			w.EXPECT().Put(mock.Anything, event("2", 1)).Return(true, nil).Once()
			c := New(quietLogger(), r, w, d, testConfig)

			// Partition 1 is not held up by partition 0's failure; partition 0 stays at offset 1
			// while its second message fails, however long that lasts, even where offset 2 is
			// final.
			err := runUntil(t, c, func() bool {
				got := r.committed()
				return got[0] == 1 && got[1] == 1 && c.Stats().Retries >= 20
			})

			require.NoError(t, err)
			assert.Equal(t, map[int]int64{0: 1, 1: 1}, r.committed(), "offset 0/1 was never applied, so nothing at or above it may be committed")
		})
	}
}

func TestConsumerFetchErrors(t *testing.T) {
	t.Run("a broker outage surfaced by the reader is waited out", func(t *testing.T) {
		down := errors.New("dial tcp 127.0.0.1:9092: connect: connection refused")
		r := &fakeReader{fetchErrs: []error{down, down, down, down, kafka.GroupCoordinatorNotAvailable},
			msgs: []kafka.Message{eventMsg(t, 0, 0, event("1", 1))}}
		w, d := newMockProfileWriter(t), newMockDeadLetterer(t)
		w.EXPECT().Put(mock.Anything, event("1", 1)).Return(true, nil).Once()
		c := New(quietLogger(), r, w, d, testConfig)

		require.NoError(t, runUntil(t, c, func() bool { return r.committed()[0] == 1 }))
	})

	t.Run("a closed reader ends the run with an error", func(t *testing.T) {
		r := &fakeReader{fetchErrs: []error{io.EOF}}
		c := New(quietLogger(), r, newMockProfileWriter(t), newMockDeadLetterer(t), testConfig)

		err := c.Run(context.Background())
		require.Error(t, err)
		assert.ErrorIs(t, err, io.EOF)
	})
}

func TestConsumerShutdown(t *testing.T) {
	t.Run("an in-flight write completes and is committed", func(t *testing.T) {
		// The second event is fetched once the first is in hand, so the two are not coalesced.
		r := &fakeReader{msgs: []kafka.Message{eventMsg(t, 0, 0, event("1", 1)), eventMsg(t, 0, 1, event("1", 2))}, holds: map[int]int{1: 1}}
		w, d := newMockProfileWriter(t), newMockDeadLetterer(t)
		started := make(chan struct{})
		w.EXPECT().Put(mock.Anything, event("1", 1)).Run(func(ctx context.Context, _ profile.Event) {
			close(started)
			time.Sleep(100 * time.Millisecond) // still running when shutdown begins
		}).Return(true, nil).Once()
		cfg := testConfig
		cfg.CommitInterval = time.Hour // only the final commit can commit it
		c := New(quietLogger(), r, w, d, cfg)

		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.Run(ctx) }()
		<-started
		cancel()

		require.NoError(t, <-errc)
		assert.Equal(t, map[int]int64{0: 1}, r.committed(), "the event written during shutdown is committed, the next one is not")
	})

	t.Run("a hung store does not hold shutdown past its bound", func(t *testing.T) {
		r := &fakeReader{msgs: []kafka.Message{eventMsg(t, 0, 0, event("1", 1))}}
		w, d := newMockProfileWriter(t), newMockDeadLetterer(t)
		w.EXPECT().Put(mock.Anything, mock.Anything).Run(func(ctx context.Context, _ profile.Event) { <-ctx.Done() }).Return(false, context.DeadlineExceeded)
		cfg := testConfig
		cfg.AttemptTimeout = time.Minute
		cfg.ShutdownTimeout = 200 * time.Millisecond
		c := New(quietLogger(), r, w, d, cfg)

		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.Run(ctx) }()
		require.Eventually(t, r.drained, time.Second, time.Millisecond)
		time.Sleep(20 * time.Millisecond)
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
		r := &fakeReader{msgs: []kafka.Message{eventMsg(t, 0, 0, event("1", 1)), eventMsg(t, 0, 1, event("2", 1))}, failCommits: 2}
		w, d := newMockProfileWriter(t), newMockDeadLetterer(t)
		w.EXPECT().Put(mock.Anything, mock.Anything).Return(true, nil).Times(2)
		c := New(quietLogger(), r, w, d, testConfig)

		// Nothing becomes final after the failures, so only a retry of the failed commit can
		// commit offset 2.
		require.NoError(t, runUntil(t, c, func() bool { return r.committed()[0] == 2 }))
		assert.Equal(t, map[int]int64{0: 2}, r.committed())
	})

	t.Run("a failed final commit is reported, not hidden", func(t *testing.T) {
		r := &fakeReader{msgs: []kafka.Message{eventMsg(t, 0, 0, event("1", 1))}, commitErr: errors.New("coordinator unavailable")}
		w, d := newMockProfileWriter(t), newMockDeadLetterer(t)
		w.EXPECT().Put(mock.Anything, mock.Anything).Return(true, nil).Once()
		c := New(quietLogger(), r, w, d, testConfig)

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

// flakyWriter fails every Put while fail is set.
type flakyWriter struct{ fail atomic.Bool }

func (w *flakyWriter) Put(context.Context, profile.Event) (bool, error) {
	if w.fail.Load() {
		return false, errors.New("ThrottlingException: rate exceeded")
	}
	return true, nil
}

// A dial of the broker and a DescribeTable succeed while writes are throttled or commits fail:
// the loop's own Ping must say so, and recover with it.
func TestConsumerPing(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(r *fakeReader, w *flakyWriter)
		fixIt   func(r *fakeReader, w *flakyWriter)
		wantErr string
	}{
		{
			name:    "store writes failing",
			breakIt: func(_ *fakeReader, w *flakyWriter) { w.fail.Store(true) },
			fixIt:   func(_ *fakeReader, w *flakyWriter) { w.fail.Store(false) },
			wantErr: "partition 3 retrying: put: ThrottlingException: rate exceeded",
		},
		{
			name: "commits failing",
			breakIt: func(r *fakeReader, _ *flakyWriter) {
				r.mu.Lock()
				defer r.mu.Unlock()
				r.commitErr = kafka.NotCoordinatorForGroup
			},
			fixIt: func(r *fakeReader, _ *flakyWriter) {
				r.mu.Lock()
				defer r.mu.Unlock()
				r.commitErr = nil
			},
			wantErr: "commit 1 partitions",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeReader{msgs: []kafka.Message{eventMsg(t, 3, 0, event("1", 1))}}
			w := &flakyWriter{}
			tt.breakIt(r, w)
			c := New(quietLogger(), r, w, newMockDeadLetterer(t), testConfig)
			require.NoError(t, c.Ping(context.Background()), "ready before it has seen anything")

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- c.Run(ctx) }()
			require.Eventually(t, func() bool {
				err := c.Ping(ctx)
				return err != nil && strings.Contains(err.Error(), tt.wantErr)
			}, 5*time.Second, time.Millisecond, "got %v, want an error with %q", c.Ping(ctx), tt.wantErr)

			tt.fixIt(r, w)
			assert.Eventually(t, func() bool { return c.Ping(ctx) == nil && r.committed()[3] == 1 }, 5*time.Second, time.Millisecond,
				"still %v", c.Ping(ctx))
			cancel()
			require.NoError(t, <-errc)
		})
	}
}

// Lag per partition is what was behind the last message brought to a final outcome: the high
// watermark a fetched message carries, less its offset, less one.
func TestConsumerLag(t *testing.T) {
	withHWM := func(m kafka.Message, hwm int64) kafka.Message { m.HighWaterMark = hwm; return m }
	r := &fakeReader{msgs: []kafka.Message{
		withHWM(eventMsg(t, 0, 10, event("1", 1)), 20),
		withHWM(eventMsg(t, 0, 11, event("1", 2)), 25), // more arrived meanwhile
		withHWM(eventMsg(t, 1, 4, event("2", 1)), 5),   // caught up
		withHWM(msg(t, 2, 7, `poison`), 9),             // dead-lettered is final too
	}}
	w, d := newMockProfileWriter(t), newMockDeadLetterer(t)
	w.EXPECT().Put(mock.Anything, mock.Anything).Return(true, nil)
	d.EXPECT().Send(mock.Anything, mock.Anything, mock.Anything).Return(nil)
	c := New(quietLogger(), r, w, d, testConfig)

	want := map[int]int64{0: 13, 1: 0, 2: 1}
	require.NoError(t, runUntil(t, c, func() bool { return assert.ObjectsAreEqual(want, c.Lag()) }))
	assert.Equal(t, want, c.Lag())
}
