package tracing_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ankitamadan/patient-profile/internal/api"
	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/consumer"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/idempotency"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/ops"
	"github.com/ankitamadan/patient-profile/internal/store"
	"github.com/ankitamadan/patient-profile/internal/tracing"
)

const (
	topic, dlqTopic, table = "patient.profile.updated", "patient.profile.updated.dlq", "patient-profile"
	keyTable               = "patient-profile-idempotency"
)

// pipeline is the whole path in one process: the producer's handler with the real Publisher, a
// kfake broker, the real consumer loop and the real store on dynalite. Everything logs at debug
// level into logs, and every span goes to spans.
type pipeline struct {
	handler http.Handler
	// noKeys is the producer's handler with a key table that does not exist, for the paths of a
	// key that cannot be recorded.
	noKeys   http.Handler
	table    *store.Table
	brokers  []string
	spans    *tracetest.SpanRecorder
	logs     *logtest.Buffer
	consumer *consumer.Consumer
}

func startPipeline(t *testing.T) *pipeline {
	t.Helper()
	devenvtest.SkipIfShort(t)
	p := &pipeline{spans: tracetest.NewSpanRecorder(), logs: logtest.New(t)}

	// The global provider and propagator, as tracing.Setup installs them, with a recorder.
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p.spans)))
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })

	logger := slog.New(tracing.LogHandler(slog.NewJSONHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	k, err := devenv.StartKafka(0, "")
	require.NoError(t, err)
	t.Cleanup(k.Close)
	p.brokers = k.ListenAddrs()
	cluster := broker.Cluster{Brokers: p.brokers}
	setup, cancelSetup := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelSetup()
	require.NoError(t, broker.CreateTopics(setup, cluster, 3, topic, dlqTopic))
	d := devenvtest.Dynalite(t)
	client := devenvtest.Table(t, d, table)
	p.table = store.New(client, table, 0)
	require.ErrorIs(t, idempotency.CreateTable(setup, client, keyTable), store.ErrNoTTL)

	pub := broker.NewPublisher(cluster, topic, "/patient-profile/test")
	t.Cleanup(func() { _ = pub.Close(context.Background()) })
	producer := func(keys *idempotency.Store) http.Handler {
		reg := ops.NewRegistry()
		return ops.NewHandler(logger, reg, api.NewHandler(logger, pub, api.Config{PublishTimeout: 5 * time.Second,
			MaxInFlightPublishes: 8, Keys: keys, KeyTimeout: 5 * time.Second}, reg), broker.NewPinger(cluster, topic))
	}
	p.handler = producer(idempotency.New(client, keyTable, time.Hour, 10*time.Second))
	p.noKeys = producer(idempotency.New(client, "nosuchtable", time.Hour, 10*time.Second))

	reader := broker.NewReader(broker.ReaderConfig{Cluster: cluster, Topic: topic, Group: "trace-test", SessionTimeout: 3 * time.Second, Logger: logger})
	dlq := broker.NewDeadLetters(cluster, dlqTopic)
	c := consumer.New(logger, reader, p.table, dlq, consumer.Config{
		CommitInterval: 100 * time.Millisecond, AttemptTimeout: 5 * time.Second, MaxBackoff: time.Second, ShutdownTimeout: 5 * time.Second,
		MaxClockSkew: 5 * time.Minute, Permanent: store.IsRejected,
	})
	p.consumer = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = reader.Close(context.Background())
		_ = dlq.Close(context.Background())
	})
	return p
}

// post sends body with the given extra headers and returns the answer.
func (p *pipeline) post(t *testing.T, body string, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/patientprofile", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, req)
	return rec
}

// waitForRow waits until the patient's row has the event.
func (p *pipeline) waitForRow(t *testing.T, patient, eventID string) {
	t.Helper()
	require.Eventually(t, func() bool {
		e, ok, err := p.table.Get(context.Background(), patient)
		return err == nil && ok && e.EventID == eventID
	}, 30*time.Second, 20*time.Millisecond, "event %s never reached the row of %s", eventID, patient)
}

// TestOneTraceFromPostToPutItem follows one update: the POST's server span, the publish, the
// consumer's handling and the DynamoDB PutItem are one trace, each the child of the one before,
// and the consumer's log line for the event carries the trace id. A caller's own traceparent
// is continued rather than replaced.
func TestOneTraceFromPostToPutItem(t *testing.T) {
	p := startPipeline(t)
	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name        string
		traceparent string
		patient     string
	}{
		{"a new trace", "", "trace-1"},
		{"the caller's trace", "00-" + callerTrace + "-00f067aa0ba902b7-01", "trace-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := p.post(t, `{"PatientId":"`+tt.patient+`","FirstName":"John"}`, map[string]string{"traceparent": tt.traceparent})
			require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
			var created struct {
				EventID string `json:"EventId"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &created))
			p.waitForRow(t, tt.patient, created.EventID)

			server := findSpan(t, p.spans, func(s sdktrace.ReadOnlySpan) bool {
				return s.SpanKind() == trace.SpanKindServer && attr(s, "request_id") == rec.Header().Get("X-Request-Id")
			})
			assert.Equal(t, "POST /patientprofile", server.Name())
			traceID := server.SpanContext().TraceID()
			if tt.traceparent != "" {
				assert.Equal(t, callerTrace, traceID.String())
			}
			inTrace := func(kind trace.SpanKind, name string) sdktrace.ReadOnlySpan {
				return findSpan(t, p.spans, func(s sdktrace.ReadOnlySpan) bool {
					return s.SpanContext().TraceID() == traceID && s.SpanKind() == kind && s.Name() == name
				})
			}
			publish := inTrace(trace.SpanKindProducer, topic+" publish")
			process := inTrace(trace.SpanKindConsumer, topic+" process")
			put := inTrace(trace.SpanKindClient, "DynamoDB.PutItem")
			assert.Equal(t, server.SpanContext().SpanID(), publish.Parent().SpanID(), "publish is not the request's child")
			assert.Equal(t, publish.SpanContext().SpanID(), process.Parent().SpanID(), "process is not the publish's child")
			assert.Equal(t, process.SpanContext().SpanID(), put.Parent().SpanID(), "PutItem is not the handling's child")
			assert.Equal(t, created.EventID, attr(process, "messaging.message.id"))
			assert.Equal(t, "applied", attr(process, "outcome"))

			handled := findLog(t, p.logs, func(l map[string]any) bool { return l["msg"] == "handled" && l["event_id"] == created.EventID })
			assert.Equal(t, traceID.String(), handled["trace_id"])
			request := findLog(t, p.logs, func(l map[string]any) bool {
				return l["msg"] == "request" && l["request_id"] == rec.Header().Get("X-Request-Id")
			})
			assert.Equal(t, traceID.String(), request["trace_id"])
		})
	}
}

// The consumer applies events whatever their headers: none (another producer), or a
// traceparent that is not one.
func TestConsumerAcceptsEventsWithoutTraceContext(t *testing.T) {
	p := startPipeline(t)
	w := broker.NewWriter(broker.Cluster{Brokers: p.brokers}, topic)
	defer w.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, w.Write(ctx,
		message.Message{Key: []byte("plain"), Value: []byte(`{"EventId":"e1","PatientId":"plain","UpdatedAt":"2026-01-02T05:00:00Z"}`)},
		message.Message{Key: []byte("garbled"), Value: []byte(`{"EventId":"e2","PatientId":"garbled","UpdatedAt":"2026-01-02T05:00:00Z"}`),
			Headers: []message.Header{{Key: "traceparent", Value: []byte("not-a-trace")}, {Key: "ce_type", Value: []byte("something.else")}}},
	))
	p.waitForRow(t, "plain", "e1")
	p.waitForRow(t, "garbled", "e2")
}

// TestNoPatientDataInLogs runs accepted and refused requests and the consumer (applied, stale
// and dead-lettered events, from this producer and another) with recognisable patient data,
// everything at debug level, and searches every log line: no name, sex or pregnancy status may
// appear, at any level.
func TestNoPatientDataInLogs(t *testing.T) {
	p := startPipeline(t)

	ok := p.post(t, `{"PatientId":"logs-1","FirstName":"Zebediah","LastName":"Quuxworth","Sex":"Female","IsPregnant":"true"}`, nil)
	require.Equal(t, http.StatusCreated, ok.Code, ok.Body.String())
	var created struct {
		EventID string `json:"EventId"`
	}
	require.NoError(t, json.Unmarshal(ok.Body.Bytes(), &created))
	bad := p.post(t, `{"PatientId":"logs-2","FirstName":"Zebediah\u0007","LastName":"Quuxworth","Sex":"Quux-Sex","IsPregnant":"Quux-Pregnant"}`, nil)
	require.Equal(t, http.StatusBadRequest, bad.Code, bad.Body.String())
	// With an Idempotency-Key: the first answer, its replay, the key with another body, and a key
	// that cannot be recorded.
	const keyed = `{"PatientId":"logs-5","FirstName":"Zebediah","LastName":"Quuxworth","Sex":"Female","IsPregnant":true}`
	key := map[string]string{"Idempotency-Key": "logs-key"}
	for _, want := range []int{http.StatusCreated, http.StatusCreated} {
		rec := p.post(t, keyed, key)
		require.Equal(t, want, rec.Code, rec.Body.String())
	}
	reused := p.post(t, strings.Replace(keyed, "Quuxworth", "Quuxworthy", 1), key)
	require.Equal(t, http.StatusUnprocessableEntity, reused.Code, reused.Body.String())
	unrecorded := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/patientprofile", strings.NewReader(keyed))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "logs-key")
	p.noKeys.ServeHTTP(unrecorded, req)
	require.Equal(t, http.StatusServiceUnavailable, unrecorded.Code, unrecorded.Body.String())

	// Another producer's events: one applied, the same again (stale), and poison.
	w := broker.NewWriter(broker.Cluster{Brokers: p.brokers}, topic)
	defer w.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other := `{"EventId":"o1","PatientId":"logs-3","FirstName":"Zebediah","LastName":"Quuxworth","Sex":"Quux-Sex","IsPregnant":true,"UpdatedAt":"2026-01-02T05:00:00Z"}`
	poison := `{"EventId":"o2","PatientId":"logs-4","FirstName":"Zebediah","LastName":"Quuxworth","Sex":"Quux-Sex","IsPregnant":"Quux-Pregnant","UpdatedAt":"2026-01-02T05:00:00Z"}`
	for _, m := range []struct{ key, value string }{{"logs-3", other}, {"logs-3", other}, {"logs-4", poison}} {
		require.NoError(t, w.Write(ctx, message.Message{Key: []byte(m.key), Value: []byte(m.value)}))
	}
	p.waitForRow(t, "logs-1", created.EventID)
	p.waitForRow(t, "logs-3", "o1")
	// The copy is stale, or superseded when both copies were fetched together.
	require.Eventually(t, func() bool {
		s := p.consumer.Stats()
		return s.Stale+s.Superseded == 1 && s.DeadLettered == 1
	}, 30*time.Second, 20*time.Millisecond, "stats %+v", p.consumer.Stats())

	lines := p.logs.Lines()
	// The test must have seen the paths it claims to search.
	for _, msg := range []string{`"msg":"request"`, `"msg":"handled"`, `"msg":"dead-lettered"`, `"level":"DEBUG"`,
		`"msg":"idempotency key not recorded; nothing published"`} {
		assert.True(t, slicesContainFunc(lines, func(l string) bool { return strings.Contains(l, msg) }), "no log line with %s", msg)
	}
	for _, line := range lines {
		lower := strings.ToLower(line)
		// The values sent, and sex or pregnancy as a logged attribute. A field's name in a
		// reason ("IsPregnant: must be a bool") says nothing about the patient.
		for _, secret := range []string{"zebediah", "quux", "female", `"sex":`, `sex=`, `"ispregnant":`, `"is_pregnant":`, `"pregnant":`, `pregnant=`} {
			assert.NotContains(t, lower, secret, "patient data in a log line: %s", line)
		}
	}
}

func slicesContainFunc(lines []string, f func(string) bool) bool {
	for _, l := range lines {
		if f(l) {
			return true
		}
	}
	return false
}

func findSpan(t *testing.T, rec *tracetest.SpanRecorder, match func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	t.Helper()
	var found sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		for _, s := range rec.Ended() {
			if match(s) {
				found = s
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no such span among %d", len(rec.Ended()))
	return found
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

func findLog(t *testing.T, logs *logtest.Buffer, match func(map[string]any) bool) map[string]any {
	t.Helper()
	for _, line := range logs.Lines() {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && match(l) {
			return l
		}
	}
	t.Fatalf("no such log line")
	return nil
}
