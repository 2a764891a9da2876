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
		w: newKafkaWriter(c, topic), source: []byte(source), spanName: topic + " publish", tracer: tracing.Tracer(),
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
	tracing.Inject(ctx, func(k, v string) { headers = append(headers, kafka.Header{Key: k, Value: []byte(v)}) })
	msgs := []kafka.Message{{Key: key, Value: value, Headers: headers}}
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

// Close flushes what is buffered and closes the connections, within ctx.
func (p *Publisher) Close(ctx context.Context) error {
	return closeWithin(ctx, "close publisher", p.w.Close)
}
