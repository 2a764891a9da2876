// Package broker holds the project's Kafka plumbing: the event publisher, the dead-letter
// publisher, the consumer-group reader and a readiness check, each configured for the delivery
// guarantees the README promises.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// Dead-letter headers, added to the original message's own headers.
const (
	HeaderError     = "dlq-error"
	HeaderTopic     = "dlq-source-topic"
	HeaderPartition = "dlq-source-partition"
	HeaderOffset    = "dlq-source-offset"
	// HeaderValueDropped, with the original value's size, marks a dead letter whose value was too
	// large to publish and was left out.
	HeaderValueDropped = "dlq-value-dropped"
)

// newWriter returns a Writer for synchronous publishing from a request or a consumer loop.
func newWriter(c Cluster, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:  kafka.TCP(c.Brokers...),
		Topic: topic,
		// murmur2 is the Java clients' partitioner, so every producer of this topic that keeps
		// its default puts a patient on the same partition as we do.
		Balancer: &kafka.Murmur2Balancer{},
		// The zero value is RequireNone: an ack that promises nothing.
		RequiredAcks: kafka.RequireAll,
		// Callers wait for their own message, so waiting to fill a batch only adds latency (the
		// default is 1 s). Concurrent requests still share batches.
		BatchTimeout: time.Millisecond,
		// Bounded by the caller's context as well; these keep one attempt from hanging.
		WriteTimeout: 5 * time.Second,
		ReadTimeout:  5 * time.Second,
		Transport:    c.transport(3*time.Second, 30*time.Second),
	}
}

// Publisher publishes patient.profile.updated events.
type Publisher struct {
	w *kafka.Writer
}

// NewPublisher returns a Publisher for the topic. It shares one Writer (and so one set of
// connections) across all requests.
func NewPublisher(c Cluster, topic string) *Publisher {
	return &Publisher{w: newWriter(c, topic)}
}

// Publish writes e keyed by its PatientId and returns once every in-sync replica has it.
func (p *Publisher) Publish(ctx context.Context, e profile.Event) error {
	buf := valueBuffers.Get().(*[]byte)
	value := e.AppendJSON((*buf)[:0])
	if err := p.w.WriteMessages(ctx, kafka.Message{Key: []byte(e.PatientID), Value: value}); err != nil {
		// The Writer may still hold the value (a cancelled write leaves its batch in flight), so
		// the buffer is not reused.
		return fmt.Errorf("publish event %s: %w", e.EventID, err)
	}
	*buf = value
	valueBuffers.Put(buf)
	return nil
}

// valueBuffers recycles encoded event values: once WriteMessages has returned without error,
// the Writer no longer holds the message.
var valueBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Close flushes what is buffered and closes the connections.
func (p *Publisher) Close() error { return p.w.Close() }

// DeadLetters publishes messages that can never be applied to the dead-letter topic.
type DeadLetters struct {
	w *kafka.Writer
}

// NewDeadLetters returns a DeadLetters for the topic.
func NewDeadLetters(c Cluster, topic string) *DeadLetters {
	return &DeadLetters{w: newWriter(c, topic)}
}

// Send copies m to the dead-letter topic, with its key, value and headers, and headers that say
// why and where it came from. It returns once every in-sync replica has it.
func (d *DeadLetters) Send(ctx context.Context, m kafka.Message, reason error) error {
	headers := append(append([]kafka.Header(nil), m.Headers...),
		kafka.Header{Key: HeaderError, Value: []byte(reason.Error())},
		kafka.Header{Key: HeaderTopic, Value: []byte(m.Topic)},
		kafka.Header{Key: HeaderPartition, Value: []byte(strconv.Itoa(m.Partition))},
		kafka.Header{Key: HeaderOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
	)
	err := d.w.WriteMessages(ctx, kafka.Message{Key: m.Key, Value: m.Value, Headers: headers})
	var tooLarge kafka.MessageTooLargeError
	if errors.As(err, &tooLarge) || errors.Is(err, kafka.MessageSizeTooLarge) {
		// The copy can never be published, and retrying it would block the partition forever.
		// Park what identifies it instead: the headers point at the original in the source topic.
		headers = append(headers, kafka.Header{Key: HeaderValueDropped, Value: []byte(strconv.Itoa(len(m.Value)))})
		err = d.w.WriteMessages(ctx, kafka.Message{Key: m.Key, Headers: headers})
	}
	if err != nil {
		return fmt.Errorf("dead-letter %s/%d/%d: %w", m.Topic, m.Partition, m.Offset, err)
	}
	return nil
}

// Close flushes and closes the connections.
func (d *DeadLetters) Close() error { return d.w.Close() }

// Pinger checks that a broker answers and has the topics.
type Pinger struct {
	cluster Cluster
	topics  []string
}

// NewPinger returns a Pinger for the topics.
func NewPinger(c Cluster, topics ...string) *Pinger {
	return &Pinger{cluster: c, topics: topics}
}

// Ping reads the cluster's metadata through a Transport of its own, made for this ping: a
// long-lived Transport answers metadata requests from its cache and would report a dead cluster
// as ready. Unlike kafka-go's Conn.ReadPartitions, it never asks the broker to create a missing
// topic, so a mistyped topic name shows as not ready instead of being created.
func (p *Pinger) Ping(ctx context.Context) error {
	t := p.cluster.transport(2*time.Second, time.Minute)
	defer t.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(p.cluster.Brokers...), Timeout: 2 * time.Second, Transport: t}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: p.topics})
	if err != nil {
		return fmt.Errorf("kafka metadata: %w", err)
	}
	for _, name := range p.topics {
		i := slices.IndexFunc(md.Topics, func(t kafka.Topic) bool { return t.Name == name })
		switch {
		case i < 0:
			return fmt.Errorf("kafka topic %s: not found", name)
		case md.Topics[i].Error != nil:
			return fmt.Errorf("kafka topic %s: %w", name, md.Topics[i].Error)
		}
	}
	return nil
}

// ReaderConfig is what NewReader needs.
type ReaderConfig struct {
	Cluster        Cluster
	Topic          string
	Group          string
	SessionTimeout time.Duration
	// Logger receives the Reader's errors (lost connections, failed joins) at warn level, and
	// its group events (joins, assignments) at debug level. They carry no message contents.
	Logger *slog.Logger
}

// NewReader returns a consumer-group reader that never commits by itself: the caller commits,
// synchronously, once a message's outcome is final.
func NewReader(c ReaderConfig) *kafka.Reader {
	heartbeat := c.SessionTimeout / 3
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers: c.Cluster.Brokers,
		Dialer:  c.Cluster.dialer(10 * time.Second),
		GroupID: c.Group,
		Topic:   c.Topic,
		// A group with no committed offset starts at the oldest event, so nothing published
		// before the first deploy is skipped.
		StartOffset: kafka.FirstOffset,
		// Zero means CommitMessages is synchronous: it returns once the broker has the offset.
		CommitInterval:    0,
		SessionTimeout:    c.SessionTimeout,
		HeartbeatInterval: heartbeat,
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
		Logger:                 kafkaLogger(c.Logger, slog.LevelDebug),
		ErrorLogger:            kafkaLogger(c.Logger, slog.LevelWarn),
	})
}

func kafkaLogger(l *slog.Logger, level slog.Level) kafka.LoggerFunc {
	return func(msg string, args ...any) {
		if l != nil {
			l.Log(context.Background(), level, fmt.Sprintf(msg, args...), slog.String("component", "kafka-go"))
		}
	}
}
