// Package consumer applies patient.profile.updated events to the profile store.
//
// One goroutine fetches; each partition has a worker that handles its messages one at a time,
// in offset order, so a patient's events (one key, one partition) are never applied out of the
// order they were fetched in; and a committer commits, per partition, the last message whose
// outcome is final: applied, judged stale or duplicate, or dead-lettered. Because a partition's
// messages are handled in order and a commit covers everything below it, a commit never passes a
// message that was not applied. A crash loses only uncommitted progress, which is redelivered,
// and redelivery is harmless because the store's conditional write makes duplicates no-ops.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// fetcher is the consumer-group side of a kafka-go Reader.
type fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
}

// profileWriter applies an event under the ordering rule. It reports false, nil when the stored
// profile is already as new or newer. Config.Permanent says which of its errors are permanent.
type profileWriter interface {
	Put(ctx context.Context, e profile.Event) (bool, error)
}

// deadLetterer parks a message that can never be applied.
type deadLetterer interface {
	Send(ctx context.Context, m kafka.Message, reason error) error
}

// Config tunes the loop.
type Config struct {
	// CommitInterval is how often final offsets are committed.
	CommitInterval time.Duration
	// AttemptTimeout bounds one store or dead-letter call.
	AttemptTimeout time.Duration
	// MaxBackoff caps the wait between retries of a transient failure.
	MaxBackoff time.Duration
	// ShutdownTimeout bounds the wait for in-flight work and the last commit once Run's context
	// is cancelled.
	ShutdownTimeout time.Duration
	// Permanent tells a store error that no retry can cure (the store refuses the event for what
	// it is) from one that may pass later. A permanent error dead-letters the event; any other is
	// retried in place. Nil means every error is transient.
	Permanent func(error) bool
	// MaxClockSkew is how far ahead of this consumer's clock an event's UpdatedAt may be. An
	// event further ahead is dead-lettered: applied, it would freeze its patient's row.
	MaxClockSkew time.Duration
}

// Stats counts outcomes since the consumer started.
type Stats struct {
	Applied, Stale, DeadLettered, Retries, Commits int64
}

// Consumer is the loop. Build it with New and start it with Run.
type Consumer struct {
	logger *slog.Logger
	reader fetcher
	store  profileWriter
	dlq    deadLetterer
	cfg    Config

	offsets                                        offsets
	health                                         health
	applied, stale, deadLettered, retries, commits atomic.Int64
	// deadLetters counts dead letters by reason. The map is built by New and only read after.
	deadLetters map[string]*atomic.Int64
	lag         lag
}

// New returns a Consumer.
func New(logger *slog.Logger, reader fetcher, store profileWriter, dlq deadLetterer, cfg Config) *Consumer {
	if cfg.Permanent == nil {
		cfg.Permanent = never
	}
	c := &Consumer{logger: logger, reader: reader, store: store, dlq: dlq, cfg: cfg,
		offsets: newOffsets(), health: health{failing: map[int]error{}}, deadLetters: map[string]*atomic.Int64{}, lag: lag{byPartition: map[int]int64{}}}
	for _, r := range Reasons {
		c.deadLetters[r] = new(atomic.Int64)
	}
	return c
}

// Stats returns the outcome counts so far.
func (c *Consumer) Stats() Stats {
	return Stats{
		Applied: c.applied.Load(), Stale: c.stale.Load(), DeadLettered: c.deadLettered.Load(),
		Retries: c.retries.Load(), Commits: c.commits.Load(),
	}
}

// DeadLetters returns the dead-letter counts so far by reason, one of Reasons.
func (c *Consumer) DeadLetters() map[string]int64 {
	counts := make(map[string]int64, len(c.deadLetters))
	for r, n := range c.deadLetters {
		counts[r] = n.Load()
	}
	return counts
}

// queueSize bounds how far fetching runs ahead of a partition's worker. Messages still queued at
// shutdown are dropped uncommitted and redelivered later.
const queueSize = 256

// Run consumes until ctx is cancelled, then stops fetching, lets each worker finish the message
// it is on (or abandon it, uncommitted, if it is waiting out a retry), commits what is final and
// returns, all within ShutdownTimeout. Fetch errors are retried: it returns nil after a
// cancellation, or an error if the reader was closed under it. Closing the reader, which leaves
// the group, is the caller's job.
func (c *Consumer) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var workers sync.WaitGroup
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		c.commitLoop(ctx)
	}()

	queues := map[int]chan kafka.Message{}
	var runErr error
	for failures := 0; ; {
		m, err := c.reader.FetchMessage(ctx)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
			runErr = fmt.Errorf("fetch: reader closed: %w", err)
			break
		}
		if err != nil {
			// kafka-go reports errors it is still recovering from (a broker down, a failed
			// join) and keeps retrying behind them, so this is not the end: wait, fetch again.
			wait := backoff(failures, c.cfg.MaxBackoff)
			failures++
			c.logAttempt(ctx, failures, "fetch failed; retrying", slog.Duration("wait", wait), slog.String("error", err.Error()))
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			continue
		}
		failures = 0
		q, ok := queues[m.Partition]
		if !ok {
			q = make(chan kafka.Message, queueSize)
			queues[m.Partition] = q
			workers.Add(1)
			go func() {
				defer workers.Done()
				c.work(ctx, q)
			}()
		}
		select {
		case q <- m:
		case <-ctx.Done():
		}
	}
	cancel()

	// Shutdown: the deadline covers the workers and the last commit together.
	stopCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.ShutdownTimeout)
	defer stop()
	idle := make(chan struct{})
	go func() { workers.Wait(); close(idle) }()
	select {
	case <-idle:
	case <-stopCtx.Done():
		c.logger.Warn("shutdown deadline passed with work in flight; it is left uncommitted and will be redelivered")
	}
	<-committed
	if err := c.commit(stopCtx); err != nil {
		c.logger.Error("final commit failed; the uncommitted events will be redelivered", slog.String("error", err.Error()))
	}
	s := c.Stats()
	c.logger.Info("stopped consuming", slog.Int64("applied", s.Applied), slog.Int64("stale", s.Stale),
		slog.Int64("dead_lettered", s.DeadLettered), slog.Int64("retries", s.Retries), slog.Int64("commits", s.Commits))
	return runErr
}

// work handles one partition's messages in order.
func (c *Consumer) work(ctx context.Context, q <-chan kafka.Message) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-q:
			if ctx.Err() != nil {
				return
			}
			if err := c.handle(ctx, m); err != nil {
				// Only shutdown stops a message short of a final outcome. It stays uncommitted.
				return
			}
			c.offsets.done(m)
			c.lag.record(m)
		}
	}
}

func (c *Consumer) commitLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
			if err := c.commit(cctx); err != nil && ctx.Err() == nil {
				c.logger.Warn("commit failed; will retry", slog.String("error", err.Error()))
			}
			cancel()
		}
	}
}

// commit commits the last final message of each partition. A failed commit is put back unless a
// later message of the same partition has become final meanwhile.
func (c *Consumer) commit(ctx context.Context) error {
	msgs := c.offsets.take()
	if len(msgs) == 0 {
		return nil
	}
	if err := c.reader.CommitMessages(ctx, msgs...); err != nil {
		c.offsets.restore(msgs)
		err = fmt.Errorf("commit %d partitions: %w", len(msgs), err)
		c.health.setCommit(err)
		return err
	}
	c.health.setCommit(nil)
	c.commits.Add(1)
	for _, m := range msgs {
		c.logger.Debug("committed", slog.String("topic", m.Topic), slog.Int("partition", m.Partition), slog.Int64("offset", m.Offset+1))
	}
	return nil
}

// Ping reports whether the loop is doing its work: no partition is retrying a store write or a
// dead-letter publish, and the last commit succeeded. /readyz asks it beside the checks that dial
// the broker and describe the table, because those succeed while writes are throttled or not
// permitted, or while commits fail. Fetching is left to the broker check: kafka-go's Reader
// retries a failed fetch or join behind FetchMessage, which then just blocks, so the loop cannot
// tell a recovered reader from an idle one.
func (c *Consumer) Ping(context.Context) error { return c.health.err() }

// health is what the loop has seen of its own calls, for Ping.
type health struct {
	mu        sync.Mutex
	failing   map[int]error // partition -> the error of the call it is retrying
	commitErr error
}

func (h *health) setFailing(partition int, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		delete(h.failing, partition)
	} else {
		h.failing[partition] = err
	}
}

func (h *health) setCommit(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.commitErr = err
}

func (h *health) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, p := range slices.Sorted(maps.Keys(h.failing)) {
		errs = append(errs, fmt.Errorf("partition %d retrying: %w", p, h.failing[p]))
	}
	if h.commitErr != nil {
		errs = append(errs, h.commitErr)
	}
	return errors.Join(errs...)
}

// offsets holds, per partition, the message to commit next: the highest-offset message whose
// outcome is final and which is not committed yet.
//
// kafka-go's Reader can hand out messages fetched before a rebalance after it (kafka-go #1398),
// so a partition's offsets can go backwards in what FetchMessage returns. Such a message is
// handled like any other: the conditional write makes a stale or duplicate event a no-op, so it
// cannot overwrite newer data. It is never committed, though: high remembers the highest offset
// recorded per partition, and committing below it would only rewind the group and cause
// redelivery. Keeping the highest is safe because every recorded message had all of its stream
// before it applied, and an applied event stays applied.
type offsets struct {
	mu      sync.Mutex
	pending map[int]kafka.Message
	high    map[int]int64
}

func newOffsets() offsets {
	return offsets{pending: map[int]kafka.Message{}, high: map[int]int64{}}
}

// done records m as final.
func (o *offsets) done(m kafka.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if h, ok := o.high[m.Partition]; ok && m.Offset <= h {
		return
	}
	o.high[m.Partition] = m.Offset
	o.pending[m.Partition] = m
}

func (o *offsets) take() []kafka.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	msgs := make([]kafka.Message, 0, len(o.pending))
	for p, m := range o.pending {
		msgs = append(msgs, m)
		delete(o.pending, p)
	}
	return msgs
}

// restore puts back messages whose commit failed, unless a later one became final meanwhile.
func (o *offsets) restore(msgs []kafka.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range msgs {
		if _, newer := o.pending[m.Partition]; !newer {
			o.pending[m.Partition] = m
		}
	}
}

// Lag returns, per partition this consumer has handled, how many messages were behind the last
// one it brought to a final outcome, when that one was fetched. A partition that has moved to
// another member keeps the last value seen here.
func (c *Consumer) Lag() map[int]int64 { return c.lag.snapshot() }

type lag struct {
	mu          sync.Mutex
	byPartition map[int]int64
}

// record notes the lag behind m: a fetched message carries its partition's high watermark (the
// offset the next message will get), so the messages after m number HighWaterMark - Offset - 1.
func (l *lag) record(m kafka.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byPartition[m.Partition] = max(m.HighWaterMark-m.Offset-1, 0)
}

func (l *lag) snapshot() map[int]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int]int64, len(l.byPartition))
	for p, n := range l.byPartition {
		out[p] = n
	}
	return out
}

// errShutdown marks a message left without a final outcome because the consumer is stopping.
var errShutdown = errors.New("abandoned at shutdown")
