package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"

	"github.com/ankitamadan/patient-profile/internal/message"
)

// Writer publishes messages to one topic and returns once the broker has them.
type Writer struct {
	w *kafka.Writer
}

// NewWriter returns a Writer for synchronous publishing from a request or a consumer loop: every
// write waits for the acks of all in-sync replicas. Tests and tools that publish raw values use
// it too, so that they place keys and wait for acks exactly as the services do.
func NewWriter(c Cluster, topic string) *Writer {
	return &Writer{w: newKafkaWriter(c, topic)}
}

// NewBulkWriter returns a Writer for loading a backlog as fast as the broker takes it (the
// benchmark's workloads): large batches, and an ack from the partition leader only.
func NewBulkWriter(c Cluster, topic string) *Writer {
	w := newKafkaWriter(c, topic)
	w.RequiredAcks = kafka.RequireOne
	w.BatchSize, w.BatchBytes, w.BatchTimeout = 5000, 900<<10, 5*time.Millisecond
	return &Writer{w: w}
}

// Write publishes msgs, each keyed as given, in order per key. When some of them failed and
// kafka-go says which, the error is a message.WriteErrors.
func (w *Writer) Write(ctx context.Context, msgs ...message.Message) error {
	km := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km[i] = toKafka(m)
	}
	err := w.w.WriteMessages(ctx, km...)
	var each kafka.WriteErrors
	if errors.As(err, &each) && len(each) == len(msgs) {
		return fmt.Errorf("write to %s: %w", w.w.Topic, message.WriteErrors(each))
	}
	if err != nil {
		return fmt.Errorf("write to %s: %w", w.w.Topic, err)
	}
	return nil
}

// Close flushes what is buffered and closes the connections, within ctx.
func (w *Writer) Close(ctx context.Context) error {
	return closeWithin(ctx, "close writer for "+w.w.Topic, w.w.Close)
}

// newKafkaWriter is the kafka-go Writer every publisher here uses.
func newKafkaWriter(c Cluster, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:  kafka.TCP(c.Brokers...),
		Topic: topic,
		// murmur2 is the Java clients' partitioner, so every producer of this topic that keeps
		// its default puts a patient on the same partition as we do.
		Balancer: partitioner,
		// The zero value is RequireNone: an ack that promises nothing.
		RequiredAcks: kafka.RequireAll,
		// Callers wait for their own message, so waiting to fill a batch only adds latency (the
		// default is 1 s; kafka-go #326, #1067). Concurrent requests still share batches.
		BatchTimeout: time.Millisecond,
		// Bounded by the caller's context as well; these keep one attempt from hanging.
		WriteTimeout: 5 * time.Second,
		ReadTimeout:  5 * time.Second,
		Transport:    forgetfulTransport{c.transport(3*time.Second, 30*time.Second)},
	}
}

// partitioner is murmur2, the Java clients' default (librdkafka calls it murmur2_random).
var partitioner = &kafka.Murmur2Balancer{}

// PartitionOf is the partition the project's writers, and the Java clients, put key on in a
// topic of n partitions.
func PartitionOf(key []byte, n int) int {
	partitions := make([]int, n)
	for i := range partitions {
		partitions[i] = i
	}
	return partitioner.Balance(kafka.Message{Key: key}, partitions...)
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

// closeWithin runs close and waits for it until ctx is done: kafka-go's Close can block on a
// fetch or a flush in progress (kafka-go #428).
func closeWithin(ctx context.Context, what string, closeFn func() error) error {
	done := make(chan error, 1)
	go func() { done <- closeFn() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
}
