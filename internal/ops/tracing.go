package ops

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ankitamadan/patient-profile/internal/tracing"
)

// serverSpan is made once, slice and all: options passed one by one are an allocation per
// request.
var serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// traceRequests gives each request a server span, continuing the caller's trace if it sent a
// W3C traceparent, else starting one. The publish, and through the message's headers the
// consumer's handling and its DynamoDB write, become its descendants.
//
// The span's attributes are built only if it records: without an exporter no span does, and
// nothing reads them. The samplers in use (never, or parent-based) decide without them.
func traceRequests(next http.Handler) http.Handler {
	tracer := tracing.Tracer()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), headerCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method, serverSpan...)
		defer span.End()
		recording := span.IsRecording()
		if recording {
			span.SetAttributes(
				attribute.String("http.request.method", r.Method),
				attribute.String("url.path", r.URL.Path),
				attribute.String("request_id", RequestID(r.Context())),
			)
		}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r.WithContext(ctx))
		if !recording {
			return
		}
		// chi fills in the route pattern while routing, in the context it put on r before us.
		if route := routePattern(chi.RouteContext(r.Context())); route != "" {
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", ww.Status()))
		if ww.Status() >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(ww.Status()))
		}
	})
}

// headerCarrier is propagation.HeaderCarrier, but it looks the propagators' own keys up in their
// canonical form directly: http.Header.Get canonicalises "traceparent", allocating, on every
// request, and twice (traceparent, baggage) for a request that has neither.
type headerCarrier http.Header

// canonicalKey is the canonical form of the keys the W3C propagators read.
func canonicalKey(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return http.CanonicalHeaderKey(key)
}

func (h headerCarrier) Get(key string) string {
	if v := h[canonicalKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (h headerCarrier) Values(key string) []string { return h[canonicalKey(key)] }

func (h headerCarrier) Set(key, value string) { h[canonicalKey(key)] = []string{value} }

func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}
