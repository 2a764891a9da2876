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
// for the broker before it is answered 503.
func NewHandler(logger *slog.Logger, pub publisher, ready pinger, publishTimeout time.Duration) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, logRequests(logger))
	r.Method(http.MethodPost, "/patientprofile", handlePostProfile(logger, pub, newStamper(time.Now), publishTimeout))
	addHealth(r, ready)
	return r
}

// NewHealthHandler returns the health routes alone, for the consumer. It is ready when every
// check answers.
func NewHealthHandler(ready ...pinger) http.Handler {
	r := chi.NewRouter()
	addHealth(r, ready...)
	return r
}

func addHealth(r chi.Router, ready ...pinger) {
	r.Method(http.MethodGet, "/healthz", handleHealthz())
	r.Method(http.MethodGet, "/readyz", handleReadyz(ready...))
}
