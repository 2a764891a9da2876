// Package tracing sets up OpenTelemetry for both binaries: W3C trace context propagation, from
// an HTTP request into the Kafka message it makes and from the message into the consumer's
// handling, and an OTLP exporter when one is configured.
package tracing

import (
	"context"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/ankitamadan/patient-profile/internal/message"
)

// Setup installs the global tracer provider and the W3C propagator (traceparent, tracestate,
// baggage). With export false, spans are made (so trace ids exist and propagate, and logs carry
// them) but go nowhere. With export true they go over OTLP/HTTP to wherever the standard
// OTEL_EXPORTER_OTLP_* variables say, which the exporter reads itself. The returned function
// flushes and stops the provider. OpenTelemetry's own errors go to logger.
func Setup(ctx context.Context, logger *slog.Logger, service string, export bool) (func(context.Context) error, error) {
	// OpenTelemetry reports its own failures (an unreachable collector) here; by default it
	// would print them to stderr outside the JSON log.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("opentelemetry", slog.String("error", err.Error()))
	}))
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))),
	}
	if export {
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("otlp trace exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	} else {
		// Nothing will read the spans, so none is recorded: each still gets ids, which are
		// logged and propagated (as unsampled), but no attributes are built or kept.
		opts = append(opts, sdktrace.WithSampler(sdktrace.NeverSample()))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(
		propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}

// Tracer is the project's tracer, from the global provider.
func Tracer() trace.Tracer {
	return otel.Tracer("github.com/ankitamadan/patient-profile")
}

// Inject hands ctx's trace context to set, one header at a time, for a message to carry. A
// callback rather than a header type: the broker writes the client's own headers, and nothing is
// copied.
func Inject(ctx context.Context, set func(key, value string)) {
	otel.GetTextMapPropagator().Inject(ctx, setter(set))
}

// setter is a propagation.TextMapCarrier that can only be written to, which is all Inject needs.
type setter func(key, value string)

func (s setter) Set(key, value string) { s(key, value) }
func (setter) Get(string) string       { return "" }
func (setter) Keys() []string          { return nil }

// Extract returns ctx with the trace context of a message's headers, if it has one.
func Extract(ctx context.Context, headers []message.Header) context.Context {
	return otel.GetTextMapPropagator().Extract(ctx, &headerCarrier{headers: headers})
}

// headerCarrier lets a propagator read a message's headers.
type headerCarrier struct{ headers []message.Header }

func (c *headerCarrier) Get(key string) string {
	for _, h := range c.headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Set is never called: Extract only reads.
func (c *headerCarrier) Set(string, string) {}

func (c *headerCarrier) Keys() []string {
	keys := make([]string, len(c.headers))
	for i, h := range c.headers {
		keys[i] = h.Key
	}
	return keys
}

// LogHandler adds trace_id and span_id to every record logged with a context that carries a
// span, so a log line can be found from a trace and the other way round.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.Handler.WithGroup(name)} }
