// Package ops is the operational HTTP surface both binaries serve: liveness (/healthz),
// readiness (/readyz), Prometheus metrics (/metrics), one log line and one measurement per
// request, and the registry each binary's metrics go to. A binary's own routes are mounted
// under it, so they get the same logging, metrics and panic recovery.
package ops

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
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
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, observeRequests(logger, reg))
	r.Method(http.MethodGet, "/healthz", handleHealthz())
	r.Method(http.MethodGet, "/readyz", handleReadyz(checks...))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if app != nil {
		r.Mount("/", app)
	}
	return r
}
