// Package consumer applies patient.profile.updated events to the profile store.
//
// One goroutine fetches and decodes. Events are then handled per patient, not per partition:
// MaxInFlight workers take patients in turn, so the events of different patients run
// concurrently, and the events of one patient run one batch after another, in the order they
// were fetched. When several events of one patient are waiting, they are coalesced: only the
// newest by the ordering rule is written, and the others are superseded by it. Fetching never
// waits for a worker, only for room in the buffer (MaxBuffered), so that a patient's later
// events reach its queue, and are coalesced, even while every worker is busy.
//
// A partition commits its contiguous watermark: the last message below which every message's
// outcome is final (applied, stale or duplicate, superseded, or dead-lettered). So a commit never
// passes a message that was not brought to a final outcome, whatever order the patients finish
// in. A crash loses only uncommitted progress, which is redelivered, and redelivery is harmless
// because the store's conditional write makes duplicates no-ops.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// fetcher is a consumer-group member's reader. Fetch may return errors that it recovers from by
// itself (the loop retries), or message.ErrClosed once it is closed. Commit commits, per
// partition, the offset after each message.
type fetcher interface {
	Fetch(ctx context.Context) (message.Message, error)
	Commit(ctx context.Context, msgs ...message.Message) error
}

// profileWriter applies an event under the ordering rule. It reports false, nil when the stored
// profile is already as new or newer. An error that Config.Permanent accepts is permanent; any
// other error is transient.
type profileWriter interface {
	Put(ctx context.Context, e profile.Event) (bool, error)
}

// deadLetterer parks a message that can never be applied.
type deadLetterer interface {
	Send(ctx context.Context, m message.Message, reason error) error
}

// Defaults for the zero values of Config's bounds.
const (
	DefaultMaxInFlight = 64
	DefaultMaxBuffered = 4096
)

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
	// MaxInFlight bounds how many patients are handled at once, and so the store calls in
	// flight. Zero means DefaultMaxInFlight.
	MaxInFlight int
	// MaxBuffered bounds the messages fetched but not yet final (and so held in memory). When it
	// is reached, fetching waits. Zero means DefaultMaxBuffered.
	MaxBuffered int
	// MaxClockSkew is how far ahead of this consumer's clock an event's UpdatedAt may be. An
	// event further ahead is dead-lettered: applied, it would freeze its patient's row.
	MaxClockSkew time.Duration
	// Permanent tells a store error that can never succeed (the store rejects the event for what
	// it is) from a transient one. Such an event is dead-lettered. Nil means every error is
	// transient.
	Permanent func(error) bool
	// ObserveAge, if not nil, is told how old each event is when its outcome is final: this
	// consumer's clock minus the event's UpdatedAt (its DeletedAt, for a deletion), with the
	// outcome, one of AgeOutcomes. That is how fresh the replica is, measured where it is written,
	// with nothing polled; the caller exports it (cmd/consumer, as a histogram), so the loop
	// knows no metrics library. Poison and Kafka tombstones have no event to date and are not
	// observed. It is called from the workers, concurrently, and must not block.
	ObserveAge func(outcome string, age time.Duration)
}

// The outcomes of an event, as ObserveAge and the consumer's metrics name them.
const (
	OutcomeApplied      = "applied"
	OutcomeStale        = "stale"
	OutcomeSuperseded   = "superseded"
	OutcomeDeadLettered = "dead_lettered"
)

// AgeOutcomes lists the outcomes ObserveAge is called with.
var AgeOutcomes = []string{OutcomeApplied, OutcomeStale, OutcomeSuperseded, OutcomeDeadLettered}

// Stats counts outcomes since the consumer started.
type Stats struct {
	Applied, Stale, Superseded, DeadLettered, Retries, Commits int64
	// CommitFailures counts commits the broker refused or that did not reach it (a rebalance, a
	// member the group expired, an outage); what they would have committed is committed later.
	CommitFailures int64
	// KafkaTombstones counts null values (a key with no value), committed as no-ops.
	KafkaTombstones int64
}

// Consumer is the loop. Build it with New and start it with Run, once.
type Consumer struct {
	logger *slog.Logger
	reader fetcher
	store  profileWriter
	dlq    deadLetterer
	cfg    Config

	marks watermark

	// keys holds, for each patient with events not yet final, the events not yet taken by a
	// worker. A patient is in ready, or in a worker's hands, never both, so its batches run one
	// after another.
	mu    sync.Mutex
	keys  map[string]*keyQueue
	ready chan string
	// buffered bounds the messages not yet final.
	buffered chan struct{}

	applied, stale, superseded, deadLettered, retries, commits, commitFailures, kafkaTombstones atomic.Int64
	// deadLetters counts dead letters by reason. The map is built by New and only read after.
	deadLetters map[string]*atomic.Int64
	health      health
	lag         lag
}

// keyQueue is one patient's events not yet taken by a worker.
type keyQueue struct {
	waiting []*item
}

// item is a fetched message on its way to a final outcome.
type item struct {
	m   message.Message
	e   profile.Event
	err error // why the message can't be decoded: it is poison
	// mark is the message's place in its partition's watermark; nil for a message handed out
	// again, whose offset another message already holds.
	mark *mark
}

// New returns a Consumer.
func New(logger *slog.Logger, reader fetcher, store profileWriter, dlq deadLetterer, cfg Config) *Consumer {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = DefaultMaxBuffered
	}
	if cfg.Permanent == nil {
		cfg.Permanent = never
	}
	c := &Consumer{logger: logger, reader: reader, store: store, dlq: dlq, cfg: cfg,
		marks: newWatermark(), keys: map[string]*keyQueue{},
		// Every patient in keys has at least one message in the buffer, so ready never fills.
		ready: make(chan string, cfg.MaxBuffered), buffered: make(chan struct{}, cfg.MaxBuffered),
		deadLetters: map[string]*atomic.Int64{}, health: newHealth(), lag: newLag()}
	for _, r := range Reasons {
		c.deadLetters[r] = new(atomic.Int64)
	}
	return c
}

// DeadLetters returns the dead-letter counts so far by reason, one of Reasons.
func (c *Consumer) DeadLetters() map[string]int64 {
	counts := make(map[string]int64, len(c.deadLetters))
	for r, n := range c.deadLetters {
		counts[r] = n.Load()
	}
	return counts
}

// Stats returns the outcome counts so far.
func (c *Consumer) Stats() Stats {
	return Stats{
		Applied: c.applied.Load(), Stale: c.stale.Load(), Superseded: c.superseded.Load(),
		DeadLettered: c.deadLettered.Load(), Retries: c.retries.Load(), Commits: c.commits.Load(),
		CommitFailures:  c.commitFailures.Load(),
		KafkaTombstones: c.kafkaTombstones.Load(),
	}
}

// Run consumes until ctx is cancelled, then stops fetching, lets each worker's batch in hand
// finish its store call (or abandons it, uncommitted, if it is waiting out a retry), drops what
// is still waiting, commits what is final and returns, all within ShutdownTimeout. Fetch errors
// are retried: it returns nil after a cancellation, or an error if the reader was closed under
// it. Closing the reader, which leaves the group, is the caller's job.
func (c *Consumer) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var workers sync.WaitGroup
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		c.commitLoop(ctx)
	}()

	for range c.cfg.MaxInFlight {
		workers.Add(1)
		go func() {
			defer workers.Done()
			c.work(ctx)
		}()
	}
	runErr := c.fetchLoop(ctx)
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
		c.logger.Error("final commit failed; the uncommitted events will be redelivered",
			slog.String("error", err.Error()))
	}
	s := c.Stats()
	c.logger.Info("stopped consuming", slog.Int64("applied", s.Applied), slog.Int64("stale", s.Stale),
		slog.Int64("superseded", s.Superseded), slog.Int64("dead_lettered", s.DeadLettered),
		slog.Int64("retries", s.Retries), slog.Int64("commits", s.Commits))
	return runErr
}

// fetchLoop fetches, decodes and queues each message for its patient until ctx is cancelled or
// the reader is closed.
func (c *Consumer) fetchLoop(ctx context.Context) error {
	for failures := 0; ; {
		// A slot in the buffer first, so that a message is never fetched without room for it.
		select {
		case c.buffered <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		m, err := c.reader.Fetch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, message.ErrClosed) {
			return err
		}
		if err != nil {
			<-c.buffered
			// The reader reports errors it is still recovering from (a broker down, a failed
			// join) and keeps retrying behind them, so this is not the end: wait, fetch again.
			wait := backoff(failures, c.cfg.MaxBackoff)
			failures++
			c.logAttempt(ctx, failures, "fetch failed; retrying",
				slog.Duration("wait", wait), slog.String("error", err.Error()))
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			continue
		}
		failures = 0
		it := &item{m: m, mark: c.marks.track(m)}
		if m.Value == nil {
			// A Kafka tombstone (the key with a null value), which the producer publishes after
			// a deletion so that a compacted topic forgets the patient. The deletion event before
			// it did the erasure; this one is final as it is.
			c.kafkaTombstones.Add(1)
			c.final(it)
			continue
		}
		it.e, it.err = decodeMessage(m, time.Now(), c.cfg.MaxClockSkew)
		c.dispatch(it)
	}
}

// dispatch queues it for its patient, and queues the patient for a worker unless it is queued
// or in hand already.
func (c *Consumer) dispatch(it *item) {
	key := it.e.PatientID
	if it.err != nil {
		// Poison has no patient: it waits for no one, and no one waits for it.
		key = fmt.Sprintf("\x00poison/%d/%d", it.m.Partition, it.m.Offset)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if q, ok := c.keys[key]; ok {
		q.waiting = append(q.waiting, it)
		return
	}
	c.keys[key] = &keyQueue{waiting: []*item{it}}
	c.ready <- key
}

// work takes patients in turn and handles everything waiting for each as one batch. A patient
// with more events waiting afterwards goes to the back of the line: meanwhile more of its events
// can arrive and share the next write, and other patients get their turn.
func (c *Consumer) work(ctx context.Context) {
	for {
		var key string
		select {
		case <-ctx.Done():
			return
		case key = <-c.ready:
		}
		if ctx.Err() != nil {
			// Both were ready: shutdown wins, and nothing new starts.
			return
		}
		c.mu.Lock()
		q := c.keys[key]
		batch := q.waiting
		q.waiting = nil
		c.mu.Unlock()
		if err := c.handle(ctx, batch); err != nil {
			// Only shutdown stops a batch short of a final outcome. It stays uncommitted.
			return
		}
		c.mu.Lock()
		if len(q.waiting) == 0 {
			delete(c.keys, key)
		} else {
			c.ready <- key
		}
		c.mu.Unlock()
	}
}

// final records that it has its outcome, and frees its place in the buffer.
func (c *Consumer) final(it *item) {
	if it.mark != nil {
		c.marks.done(it.mark)
	}
	c.lag.record(it.m)
	<-c.buffered
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

// commit commits each partition's watermark. A failed commit is put back unless the watermark
// has moved on meanwhile.
func (c *Consumer) commit(ctx context.Context) error {
	msgs := c.marks.take()
	if len(msgs) == 0 {
		return nil
	}
	if err := c.reader.Commit(ctx, msgs...); err != nil {
		c.marks.restore(msgs)
		c.commitFailures.Add(1)
		err = fmt.Errorf("commit %d partitions: %w", len(msgs), err)
		c.health.setCommit(err)
		return err
	}
	c.health.setCommit(nil)
	c.commits.Add(1)
	for _, m := range msgs {
		c.logger.Debug("committed", slog.String("topic", m.Topic), slog.Int("partition", m.Partition),
			slog.Int64("offset", m.Offset+1))
	}
	return nil
}

// errShutdown marks a message left without a final outcome because the consumer is stopping.
var errShutdown = errors.New("abandoned at shutdown")
