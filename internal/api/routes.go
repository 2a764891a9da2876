// Package api is the Profile service's HTTP interface, and the health endpoints both binaries
// serve. Every route is in this file.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// publisher is the Kafka side of the Profile service.
type publisher interface {
	Publish(ctx context.Context, e profile.Event) error
}

// pinger reports whether a dependency can be reached, for /readyz.
type pinger interface {
	Ping(ctx context.Context) error
}

// NewHandler returns the Profile service's routes. Each request waits at most publishTimeout
// for the broker before it is answered 503. Request metrics go to reg, which /metrics serves.
func NewHandler(logger *slog.Logger, pub publisher, ready pinger, publishTimeout time.Duration, reg *prometheus.Registry) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, observeRequests(logger, reg))
	r.Method(http.MethodPost, "/patientprofile", handlePostProfile(logger, pub, newStamper(time.Now), publishTimeout))
	addOps(r, reg, ready)
	return r
}

// NewOpsHandler returns the operational routes alone (health, readiness, metrics), for the
// consumer. It is ready when every check answers.
func NewOpsHandler(reg *prometheus.Registry, ready ...pinger) http.Handler {
	r := chi.NewRouter()
	addOps(r, reg, ready...)
	return r
}

func addOps(r chi.Router, reg *prometheus.Registry, ready ...pinger) {
	r.Method(http.MethodGet, "/healthz", handleHealthz())
	r.Method(http.MethodGet, "/readyz", handleReadyz(ready...))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
}
