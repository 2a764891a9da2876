// Package api is the Profile service's HTTP API: its writes (POST /patientprofile, DELETE
// /patientprofile/{PatientId}) and its OpenAPI document. Every route is in this file; the
// operational routes (health, readiness, metrics) and what every request gets (an id, a span, a
// log line) are package ops's, which mounts these.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ankitamadan/patient-profile/internal/auth"
	"github.com/ankitamadan/patient-profile/internal/problem"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// publisher is the Kafka side of the Profile service.
type publisher interface {
	Publish(ctx context.Context, e profile.Event) error
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
	// Keys keeps the Idempotency-Keys; nil turns them off (a request that sends one is refused).
	Keys keyStore
	// KeyTimeout bounds each call to Keys; KeyRequired makes the header mandatory.
	KeyTimeout  time.Duration
	KeyRequired bool
}

// NewHandler returns the Profile service's routes. Publish metrics go to reg.
func NewHandler(logger *slog.Logger, pub publisher, cfg Config, reg prometheus.Registerer) http.Handler {
	r := problem.NewRouter()
	p := &publishing{logger: logger, pub: measurePublishes(pub, reg), stamper: newStamper(time.Now),
		timeout:  cfg.PublishTimeout,
		inFlight: make(chan struct{}, max(cfg.MaxInFlightPublishes, 1)),
		keys:     newKeys(logger, cfg, reg)}
	r.Group(func(r chi.Router) {
		r.Use(auth.RequireToken(cfg.Tokens))
		r.Method(http.MethodPost, "/patientprofile", handlePostProfile(p))
		r.Method(http.MethodDelete, "/patientprofile/{PatientId}", handleDeleteProfile(p))
	})
	r.Method(http.MethodGet, "/openapi.yaml", handleOpenAPI())
	return r
}
