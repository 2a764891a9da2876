package ops

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ankitamadan/patient-profile/internal/tracing"
)

// traceRequests gives each request a server span, continuing the caller's trace if it sent a
// W3C traceparent, else starting one. The publish, and through the message's headers the
// consumer's handling and its DynamoDB write, become its descendants.
func traceRequests(next http.Handler) http.Handler {
	tracer := tracing.Tracer()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("request_id", RequestID(r.Context())),
		))
		defer span.End()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r.WithContext(ctx))
		// chi fills in the route pattern while routing, in the context it put on r before us.
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			span.SetName(r.Method + " " + rc.RoutePattern())
			span.SetAttributes(attribute.String("http.route", rc.RoutePattern()))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", ww.Status()))
		if ww.Status() >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(ww.Status()))
		}
	})
}
