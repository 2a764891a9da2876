package broker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/tracing"
)

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
	source string
}

// NewPublisher returns a Publisher for the topic, whose events say they come from source (the
// CloudEvents source, a URI reference). It shares one Writer (and so one set of connections)
// across all requests.
func NewPublisher(c Cluster, topic, source string) *Publisher {
	return &Publisher{w: newKafkaWriter(c, topic), source: source}
}

// Publish writes e keyed by its PatientId, with CloudEvents headers, and returns once every
// in-sync replica has it.
func (p *Publisher) Publish(ctx context.Context, e profile.Event) error {
	buf := valueBuffers.Get().(*[]byte)
	value := e.AppendJSON((*buf)[:0])
	ctx, span := tracing.Tracer().Start(ctx, p.w.Topic+" publish", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", p.w.Topic),
			attribute.String("messaging.message.id", e.EventID),
		))
	defer span.End()
	// The headers carry the publish span's context, so the consumer's span is its child.
	headers := toKafkaHeaders(tracing.Inject(ctx, p.cloudEvent(e)))
	msgs := []kafka.Message{{Key: []byte(e.PatientID), Value: value, Headers: headers}}
	if e.Deleted {
		// Then the key with a null value, a Kafka tombstone, so that a compacted topic forgets
		// the patient's earlier values. One write: same key, same partition, in this order.
		msgs = append(msgs, kafka.Message{Key: []byte(e.PatientID)})
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

// cloudEvent returns e's CloudEvents headers. ce_type says whether it is an update or a
// deletion, ce_time is its stamp (UpdatedAt or DeletedAt) to the nanosecond, and ce_subject its
// PatientId (an id, never patient data).
func (p *Publisher) cloudEvent(e profile.Event) []message.Header {
	typ := EventType
	if e.Deleted {
		typ = EventTypeDeleted
	}
	// Room for traceparent and tracestate, which tracing.Inject appends.
	return append(make([]message.Header, 0, 9), []message.Header{
		{Key: HeaderSpecVersion, Value: []byte("1.0")},
		{Key: HeaderID, Value: []byte(e.EventID)},
		{Key: HeaderSource, Value: []byte(p.source)},
		{Key: HeaderType, Value: []byte(typ)},
		{Key: HeaderTime, Value: e.UpdatedAt.UTC().AppendFormat(nil, time.RFC3339Nano)},
		{Key: HeaderSubject, Value: []byte(e.PatientID)},
		{Key: HeaderContentType, Value: []byte("application/json")},
	}...)
}

// valueBuffers recycles encoded event values: once WriteMessages has returned without error,
// the Writer no longer holds the message.
var valueBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Close flushes what is buffered and closes the connections, within ctx.
func (p *Publisher) Close(ctx context.Context) error {
	return closeWithin(ctx, "close publisher", p.w.Close)
}
