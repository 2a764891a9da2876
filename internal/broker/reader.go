package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ankitamadan/patient-profile/internal/message"
)

// ReaderConfig is what NewReader needs.
type ReaderConfig struct {
	Cluster        Cluster
	Topic          string
	Group          string
	SessionTimeout time.Duration
	// Logger receives the Reader's errors (lost connections, failed joins) at warn level, and
	// its group events (joins, assignments) at debug level, each kind of line rate-limited. They
	// carry no message contents.
	Logger *slog.Logger
	// StallCheck is how long a Fetch waits with no fetch request from kafka-go's partition
	// readers before it asks the broker whether this member should have some (see Fetch);
	// zero means 15 s. Tests shorten it.
	StallCheck time.Duration
}

const defaultStallCheck = 15 * time.Second

// Reader reads a topic as a member of a consumer group. It never commits by itself: the caller
// commits, synchronously, once a message's outcome is final. Fetch and Commit may be called from
// different goroutines.
//
// Delivery is at least once, and a partition's offsets can go backwards in what Fetch returns:
// after a rebalance, kafka-go can still hand out messages fetched for the previous assignment
// (kafka-go #1398), and the new owner of a partition starts again from the committed offset.
type Reader struct {
	cfg   ReaderConfig
	topic *Pinger
	// join and describe are kafka-go's group reader and DescribeGroup, but for tests.
	join     func(ReaderConfig) groupReader
	describe func(ctx context.Context) (Group, error)

	mu     sync.Mutex
	r      groupReader // nil until the topic exists
	closed bool
}

// groupReader is what Reader uses of kafka-go's group reader.
type groupReader interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
	Stats() kafka.ReaderStats
	Close() error
}

// NewReader returns a Reader. It joins the group on the first Fetch.
func NewReader(cfg ReaderConfig) *Reader {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reader{
		cfg: cfg, topic: NewPinger(cfg.Cluster, cfg.Topic),
		join: func(c ReaderConfig) groupReader { return newGroupReader(c) },
		describe: func(ctx context.Context) (Group, error) {
			return DescribeGroup(ctx, cfg.Cluster, cfg.Group, cfg.Topic)
		},
	}
}

// Fetch returns the next message. Errors that kafka-go recovers from by itself (a broker down, a
// failed join) are returned as they happen, and the next Fetch goes on; once the Reader is
// closed, the error is message.ErrClosed.
//
// Fetch also recovers from a state kafka-go does not: a member of a stable group that holds
// partitions but runs no partition reader, so that its FetchMessage waits forever while it
// heartbeats and the group's lag grows. kafka-go's Reader gets there when a generation ends before
// the Reader has started it (a heartbeat or the partition watcher failing at once, as under
// network faults): that generation's unsubscribe then runs on its own goroutine and can cancel
// the readers of the next one. A live partition reader sends a fetch request at least every
// MaxWait plus its backoff, so a whole StallCheck with none means it has none; if the group has no
// more members than the topic has partitions, every member is owed one, and Fetch replaces the
// kafka-go Reader with a new one, which leaves the group and joins it again.
func (r *Reader) Fetch(ctx context.Context) (message.Message, error) {
	for {
		kr, err := r.joinOnceTheTopicExists(ctx)
		if err != nil {
			return message.Message{}, err
		}
		kr.Stats() // resets kafka-go's counters: what stalled reads covers this wait alone
		wait, cancel := context.WithTimeout(ctx, r.stallCheck())
		m, err := kr.FetchMessage(wait)
		cancel()
		switch {
		case err == nil:
			return fromKafka(m), nil
		case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			if r.stalled(ctx, kr) {
				r.replace(ctx, kr)
			}
			continue
		case r.isClosed():
			// kafka-go's FetchMessage says io.EOF once its Reader is closed, but also passes on
			// the io.EOF of a group join whose connection was hung up on: only our own Close is
			// final.
			return message.Message{}, fmt.Errorf("fetch %s: %w: %w", r.cfg.Topic, message.ErrClosed, err)
		default:
			return message.Message{}, fmt.Errorf("fetch %s: %w", r.cfg.Topic, err)
		}
	}
}

func (r *Reader) stallCheck() time.Duration {
	if r.cfg.StallCheck > 0 {
		return r.cfg.StallCheck
	}
	return defaultStallCheck
}

// stalled says whether kr, whose FetchMessage just waited a whole StallCheck, ran no partition
// reader although the group owes this member one.
func (r *Reader) stalled(ctx context.Context, kr groupReader) bool {
	s := kr.Stats()
	if s.Fetches > 0 || s.Dials > 0 {
		return false // its partition readers are at work: the topic is quiet
	}
	g, err := r.describe(ctx)
	if err != nil {
		return false // the broker cannot say: look again after the next wait
	}
	return owesEveryMember(g)
}

// owesEveryMember says whether a group, as the broker describes it, gives every member at least
// one partition: when it is stable and has no more members than partitions, as both of
// kafka-go's balancers (range and round robin) then do.
func owesEveryMember(g Group) bool {
	return g.State == "Stable" && len(g.Members) > 0 && len(g.Members) <= len(g.Partitions)
}

// replace closes kr, leaving the group, and lets the next Fetch join it with a new kafka-go
// Reader. Messages already fetched stay valid: their commits go through the new member, and at
// worst a partition's new owner reads them again (delivery is at least once).
func (r *Reader) replace(ctx context.Context, kr groupReader) {
	r.mu.Lock()
	if r.r == kr {
		r.r = nil
	}
	r.mu.Unlock()
	r.cfg.Logger.WarnContext(ctx, "the group reader fetched nothing although the group owes it partitions; "+
		"joining again with a new one", "group", r.cfg.Group, "topic", r.cfg.Topic, "waited", r.stallCheck())
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := closeWithin(closeCtx, "leave group "+r.cfg.Group, kr.Close); err != nil {
		r.cfg.Logger.WarnContext(ctx, "the stalled group reader did not close", "error", err)
	}
}

func (r *Reader) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// joinOnceTheTopicExists creates the kafka-go group reader, and so joins the group, only once
// the topic exists. Joined earlier, kafka-go's group reader rejoins in a tight loop with no
// backoff while the topic is missing (about a thousand log lines a second; kafka-go #200), and
// a member assigned nothing because the topic appeared during its join may never be given its
// partitions (kafka-go #1314, #800).
func (r *Reader) joinOnceTheTopicExists(ctx context.Context) (groupReader, error) {
	r.mu.Lock()
	kr, closed := r.r, r.closed
	r.mu.Unlock()
	switch {
	case closed:
		return nil, fmt.Errorf("fetch %s: %w", r.cfg.Topic, message.ErrClosed)
	case kr != nil:
		return kr, nil
	}
	if err := r.topic.Ping(ctx); err != nil {
		return nil, fmt.Errorf("fetch: not joining group %s yet: %w", r.cfg.Group, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("fetch %s: %w", r.cfg.Topic, message.ErrClosed)
	}
	if r.r == nil {
		r.r = r.join(r.cfg)
	}
	return r.r, nil
}

// Commit commits each message's offset (the next to read is the one after it) for its
// partition, and returns once the broker has them.
func (r *Reader) Commit(ctx context.Context, msgs ...message.Message) error {
	r.mu.Lock()
	kr := r.r
	r.mu.Unlock()
	if kr == nil {
		return errors.New("commit: the group has not been joined")
	}
	if err := kr.CommitMessages(ctx, commitKafka(msgs)...); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Close leaves the group, so that the other members take this one's partitions at once instead
// of after a session timeout, and closes the connections, within ctx. Past ctx the broker expires
// the session instead.
func (r *Reader) Close(ctx context.Context) error {
	r.mu.Lock()
	kr := r.r
	r.closed = true
	r.mu.Unlock()
	if kr == nil {
		return nil
	}
	return closeWithin(ctx, "leave group "+r.cfg.Group, kr.Close)
}

func newGroupReader(c ReaderConfig) *kafka.Reader {
	limit := newLineLimiter(time.Now)
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers: c.Cluster.Brokers,
		Dialer:  c.Cluster.dialer(10 * time.Second),
		GroupID: c.Group,
		Topic:   c.Topic,
		// A group with no committed offset starts at the oldest event, so nothing published
		// before the first deploy is skipped.
		StartOffset: kafka.FirstOffset,
		// Zero means CommitMessages is synchronous: it returns once the broker has the offset.
		// A positive interval commits in the background and can lose commits on exit
		// (kafka-go #1259).
		CommitInterval:    0,
		SessionTimeout:    c.SessionTimeout,
		HeartbeatInterval: c.SessionTimeout / 3,
		RebalanceTimeout:  c.SessionTimeout,
		JoinGroupBackoff:  500 * time.Millisecond,
		// Close waits up to MaxWait for a fetch in progress (kafka-go #428).
		MaxWait:        500 * time.Millisecond,
		ReadBackoffMin: 100 * time.Millisecond,
		ReadBackoffMax: time.Second,
		MaxBytes:       10 << 20,
		// New partitions are picked up without a restart.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 10 * time.Second,
		Logger:                 kafkaLogger(c.Logger, slog.LevelDebug, limit),
		ErrorLogger:            kafkaLogger(c.Logger, slog.LevelWarn, limit),
	})
}
