// Package broker holds the project's Kafka plumbing: the event publisher, the dead-letter
// publisher, the consumer-group reader and a readiness check, each configured for the delivery
// guarantees the README promises.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/tracing"
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

// NewWriter returns the Writer every publisher here uses, for synchronous publishing from a
// request or a consumer loop. Tests and tools that publish raw values use it too, so they place
// keys and wait for acks exactly as the services do.
func NewWriter(c Cluster, topic string) *kafka.Writer {
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
		Transport:    forgetfulTransport{c.transport(3*time.Second, 30*time.Second)},
	}
}

// forgetfulTransport is a kafka-go Transport that forgets a failed metadata lookup at once.
//
// A Transport keeps one connection pool per bootstrap address, and a pool whose first metadata
// lookup failed caches that error: every metadata request, and so every WriteMessages, gets it
// back without a round trip until the pool's next background refresh, a random moment within
// MetadataTTL (transport.go: connPool.update keeps state.err while no metadata was ever seen;
// connPool.discover waits rand(MetadataTTL)). A producer that first published while the broker
// was down answered 503 for up to 30 s after the broker was back and /readyz said 200.
// CloseIdleConnections drops the pools (in-flight requests keep theirs until they finish), so
// the next request starts a fresh pool that looks the cluster up straight away.
//
// Once a pool has seen metadata it keeps serving it through later failures, and produce requests
// dial the brokers afresh, so only a pool that never reached the cluster returns a metadata
// error here.
type forgetfulTransport struct {
	*kafka.Transport
}

func (t forgetfulTransport) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	resp, err := t.Transport.RoundTrip(ctx, addr, req)
	if _, ok := req.(*metadata.Request); ok && err != nil && ctx.Err() == nil {
		t.CloseIdleConnections()
	}
	return resp, err
}

// CloudEvents 1.0 attributes in Kafka binary mode (the Kafka protocol binding: each attribute
// is a header named ce_<attribute>, and the value is the event data as it is). A platform can
// route, filter and trace events by these without reading the value; the value is unchanged, so
// consumers that ignore headers (and other producers that send none) are unaffected.
const (
	HeaderSpecVersion = "ce_specversion"
	HeaderID          = "ce_id"
	HeaderSource      = "ce_source"
	HeaderType        = "ce_type"
	HeaderTime        = "ce_time"
	HeaderSubject     = "ce_subject"
	HeaderContentType = "content-type"

	// EventType is the CloudEvents type of an update, EventTypeDeleted of an erasure.
	EventType        = "patient.profile.updated"
	EventTypeDeleted = "patient.profile.deleted"
)

// Publisher publishes patient.profile.updated events.
type Publisher struct {
	w      *kafka.Writer
	source []byte
	// spanName and tracer are the publish span's, made once rather than per event.
	spanName string
	tracer   trace.Tracer
}

// NewPublisher returns a Publisher for the topic, whose events say they come from source (the
// CloudEvents source, a URI reference). It shares one Writer (and so one set of connections)
// across all requests. Its spans come from the tracer provider installed when it is made.
func NewPublisher(c Cluster, topic, source string) *Publisher {
	return &Publisher{
		w: NewWriter(c, topic), source: []byte(source), spanName: topic + " publish", tracer: tracing.Tracer(),
	}
}

// producerSpan is made once, slice and all: options passed one by one are an allocation per
// event.
var producerSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)}

// Publish writes e keyed by its PatientId, with CloudEvents headers, and returns once every
// in-sync replica has it.
func (p *Publisher) Publish(ctx context.Context, e profile.Event) error {
	buf := valueBuffers.Get().(*[]byte)
	value := e.AppendJSON((*buf)[:0])
	ctx, span := p.tracer.Start(ctx, p.spanName, producerSpan...)
	defer span.End()
	if span.IsRecording() { // without an exporter no span records, and the attributes would go nowhere
		span.SetAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", p.w.Topic),
			attribute.String("messaging.message.id", e.EventID),
		)
	}
	headers, key := p.cloudEvent(e)
	// The headers carry the publish span's context, so the consumer's span is its child.
	msgs := []kafka.Message{{Key: key, Value: value, Headers: tracing.Inject(ctx, headers)}}
	if e.Deleted {
		// Then the key with a null value, a Kafka tombstone, so that a compacted topic forgets
		// the patient's earlier values. One write: same key, same partition, in this order.
		msgs = append(msgs, kafka.Message{Key: key})
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		// The Writer may still hold the value (a cancelled write leaves its batch in flight), so
		// the buffer is not reused.
		return fmt.Errorf("publish event %s: %w", e.EventID, err)
	}
	*buf = value
	valueBuffers.Put(buf)
	return nil
}

// The header values that never change. kafka-go only reads them, so every message shares them.
var (
	specVersion     = []byte("1.0")
	jsonContentType = []byte("application/json")
	typeUpdated     = []byte(EventType)
	typeDeleted     = []byte(EventTypeDeleted)
)

// cloudEvent returns e's CloudEvents headers, with room for the trace context, and its PatientId
// as bytes for the key. ce_type says whether it is an update or a deletion, ce_time is its stamp
// (UpdatedAt or DeletedAt) to the nanosecond, and ce_subject its PatientId (an id, never patient
// data). The values that vary share one allocation.
func (p *Publisher) cloudEvent(e profile.Event) (headers []kafka.Header, patientID []byte) {
	b := make([]byte, 0, len(e.EventID)+len(e.PatientID)+len(time.RFC3339Nano))
	b = append(b, e.EventID...)
	id := b[:len(b):len(b)]
	b = e.UpdatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	at := b[len(id):len(b):len(b)]
	b = append(b, e.PatientID...)
	patientID = b[len(id)+len(at) : len(b) : len(b)]
	typ := typeUpdated
	if e.Deleted {
		typ = typeDeleted
	}
	// Seven, and traceparent (tracestate and baggage only when a caller sent them).
	headers = make([]kafka.Header, 0, 8)
	return append(headers,
		kafka.Header{Key: HeaderSpecVersion, Value: specVersion},
		kafka.Header{Key: HeaderID, Value: id},
		kafka.Header{Key: HeaderSource, Value: p.source},
		kafka.Header{Key: HeaderType, Value: typ},
		kafka.Header{Key: HeaderTime, Value: at},
		kafka.Header{Key: HeaderSubject, Value: patientID},
		kafka.Header{Key: HeaderContentType, Value: jsonContentType},
	), patientID
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
	return &DeadLetters{w: NewWriter(c, topic)}
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
	// Every missing topic at once: an operator fixing a deployment wants the whole list.
	var problems []string
	for _, name := range p.topics {
		i := slices.IndexFunc(md.Topics, func(t kafka.Topic) bool { return t.Name == name })
		switch {
		case i < 0, errors.Is(md.Topics[i].Error, kafka.UnknownTopicOrPartition):
			problems = append(problems, fmt.Sprintf("kafka topic %s: not found", name))
		case md.Topics[i].Error != nil:
			problems = append(problems, fmt.Sprintf("kafka topic %s: %v", name, md.Topics[i].Error))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
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
	// its group events (joins, assignments) at debug level, each kind of line rate-limited. They
	// carry no message contents.
	Logger *slog.Logger
}

// NewReader returns a consumer-group reader that never commits by itself: the caller commits,
// synchronously, once a message's outcome is final.
func NewReader(c ReaderConfig) *kafka.Reader {
	heartbeat := c.SessionTimeout / 3
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
		Logger:                 kafkaLogger(c.Logger, slog.LevelDebug, limit),
		ErrorLogger:            kafkaLogger(c.Logger, slog.LevelWarn, limit),
	})
}
