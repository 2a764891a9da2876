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
}

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

	// offsets reads the group's committed offsets, over connections of its own.
	offsets      *kafka.Client
	closeOffsets func()

	mu     sync.Mutex
	r      *kafka.Reader // nil until the topic exists
	closed bool
}

// NewReader returns a Reader. It joins the group on the first Fetch.
func NewReader(cfg ReaderConfig) *Reader {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	offsets, closeOffsets := cfg.Cluster.client(10*time.Second, 10*time.Second)
	return &Reader{cfg: cfg, topic: NewPinger(cfg.Cluster, cfg.Topic), offsets: offsets, closeOffsets: closeOffsets}
}

// Fetch returns the next message. Errors that kafka-go recovers from by itself (a broker down, a
// failed join) are returned as they happen, and the next Fetch goes on; once the Reader is
// closed, the error is message.ErrClosed.
func (r *Reader) Fetch(ctx context.Context) (message.Message, error) {
	kr, err := r.joinOnceTheTopicExists(ctx)
	if err != nil {
		return message.Message{}, err
	}
	m, err := kr.FetchMessage(ctx)
	if err != nil {
		// kafka-go's FetchMessage says io.EOF once its Reader is closed, but also passes on the
		// io.EOF of a group join whose connection was hung up on: only our own Close is final.
		if r.isClosed() {
			return message.Message{}, fmt.Errorf("fetch %s: %w: %w", r.cfg.Topic, message.ErrClosed, err)
		}
		return message.Message{}, fmt.Errorf("fetch %s: %w", r.cfg.Topic, err)
	}
	return fromKafka(m), nil
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
func (r *Reader) joinOnceTheTopicExists(ctx context.Context) (*kafka.Reader, error) {
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
		r.r = newGroupReader(r.cfg)
	}
	return r.r, nil
}

// Commit commits each message's offset (the next to read is the one after it) for its
// partition, and returns once the broker has them. It never moves the group back: a message whose
// partition the group has committed past already is left out.
//
// Kafka takes a commit from any member of the current generation for any partition, so without
// that a member that lost a partition while its writes were in flight (cut off past its session
// timeout, say) would commit them once back, after the partition's new owner had committed
// further: the group would read the events in between again, and once the owner had nothing
// newer to commit, its lag would never drain. Skipping loses nothing: every member commits only
// offsets below which every event is final, so the group's offset already covers the message.
// Between the read and the commit another member can still commit; that leaves the group behind
// until the partition's next commit, never ahead of an event.
func (r *Reader) Commit(ctx context.Context, msgs ...message.Message) error {
	r.mu.Lock()
	kr := r.r
	r.mu.Unlock()
	if kr == nil {
		return errors.New("commit: the group has not been joined")
	}
	ahead, err := r.ahead(ctx, msgs)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if len(ahead) == 0 {
		return nil
	}
	if err := kr.CommitMessages(ctx, commitKafka(ahead)...); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ahead returns the messages whose commit would move the group forward.
func (r *Reader) ahead(ctx context.Context, msgs []message.Message) ([]message.Message, error) {
	parts := make(map[string][]int)
	for _, m := range msgs {
		parts[m.Topic] = append(parts[m.Topic], m.Partition)
	}
	res, err := r.offsets.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: r.cfg.Group, Topics: parts})
	if err == nil {
		err = res.Error
	}
	// Kafka answers a group that has committed nothing with no offsets; kfake with an error.
	if errors.Is(err, kafka.GroupIdNotFound) {
		return msgs, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read group %s's offsets: %w", r.cfg.Group, err)
	}
	type partition struct {
		topic string
		id    int
	}
	committed := map[partition]int64{}
	for topic, ps := range res.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("read group %s's offset of %s/%d: %w", r.cfg.Group, topic, p.Partition, p.Error)
			}
			committed[partition{topic, p.Partition}] = p.CommittedOffset
		}
	}
	out := msgs[:0:0]
	for _, m := range msgs {
		if c, ok := committed[partition{m.Topic, m.Partition}]; ok && c > m.Offset {
			r.cfg.Logger.InfoContext(ctx, "commit skipped: the group is past it", "group", r.cfg.Group,
				"topic", m.Topic, "partition", m.Partition, "offset", m.Offset+1, "committed", c)
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// Close leaves the group, so that the other members take this one's partitions at once instead
// of after a session timeout, and closes the connections, within ctx. Past ctx the broker expires
// the session instead.
func (r *Reader) Close(ctx context.Context) error {
	r.mu.Lock()
	kr := r.r
	r.closed = true
	r.mu.Unlock()
	defer r.closeOffsets()
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
