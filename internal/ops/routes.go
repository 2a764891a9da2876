// Package ops is the operational HTTP surface both binaries serve: liveness (/healthz),
// readiness (/readyz), Prometheus metrics (/metrics), and for every request an id, a trace span,
// one log line and one measurement, and a problem answer if a handler panics; and the registry
// each binary's metrics go to. A binary's own routes are mounted
// under it, so they get the same logging, metrics and panic recovery.
package ops

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// checker reports whether a dependency can be reached, for /readyz.
type checker interface {
	Ping(ctx context.Context) error
}

// NewHandler returns every operational route, with app (the binary's own routes, or nil)
// mounted at the root. It is ready when every check answers.
func NewHandler(logger *slog.Logger, reg *prometheus.Registry, app http.Handler, checks ...checker) http.Handler {
	ready := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "patient_profile_ready",
		Help: "1 if the last GET /readyz answered 200, 0 if it answered 503 or has not been asked yet: " +
			"what the orchestrator's readiness probe saw.",
	})
	reg.MustRegister(ready)
	r := chi.NewRouter()
	// Outermost first: every answer has a request id, a span and a log line, a panic included.
	r.Use(withRequestID, traceRequests, observeRequests(logger, reg), recoverPanics(logger))
	// Every method, so that a wrong one is answered here (405) rather than by the app at the root.
	r.Handle("/healthz", onlyGet(handleHealthz()))
	r.Handle("/readyz", onlyGet(handleReadyz(ready, checks...)))
	r.Handle("/metrics", onlyGet(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	if app != nil {
		r.Mount("/", app)
	}
	return r
}
