// Package api is the Profile service's HTTP interface, and the health endpoints both binaries
// serve. Every route is in this file.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
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

// Config is what the Profile service's routes need besides their dependencies.
type Config struct {
	// PublishTimeout bounds each request's wait for the broker before it is answered 503.
	PublishTimeout time.Duration
	// MaxInFlightPublishes bounds the requests waiting for the broker at once; past it a request
	// is answered 503 at once.
	MaxInFlightPublishes int
	// Tokens are the bearer tokens the write routes accept. None means the routes are open.
	Tokens []string
}

// NewHandler returns the Profile service's routes. Request metrics go to reg, which /metrics
// serves.
func NewHandler(logger *slog.Logger, pub publisher, ready pinger, cfg Config, reg *prometheus.Registry) http.Handler {
	r := chi.NewRouter()
	r.Use(withRequestID, traceRequests, observeRequests(logger, reg), recoverProblems(logger))
	r.NotFound(handleNotFound())
	r.MethodNotAllowed(handleMethodNotAllowed(r))
	r.With(requireToken(cfg.Tokens)).Method(http.MethodPost, "/patientprofile",
		handlePostProfile(logger, measurePublishes(pub, reg), newStamper(time.Now), cfg.PublishTimeout, make(chan struct{}, max(cfg.MaxInFlightPublishes, 1))))
	r.Method(http.MethodGet, "/openapi.yaml", handleOpenAPI())
	addOps(r, reg, ready)
	return r
}

func handleNotFound() http.HandlerFunc {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errorf(kindNotFound, "there is no resource at this path"))
	})
}

// handleMethodNotAllowed answers 405 with the Allow header chi's own handler would have set:
// chi does not pass the allowed methods to a custom handler, so they are found by asking the
// router.
func handleMethodNotAllowed(routes chi.Routes) http.HandlerFunc {
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range methods {
			if routes.Match(chi.NewRouteContext(), m, r.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		e := errorf(kindMethodNotAllowed, "%s is not allowed here; use %s", r.Method, strings.Join(allowed, ", "))
		e.header = http.Header{"Allow": {strings.Join(allowed, ", ")}}
		writeError(w, r, e)
	})
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
