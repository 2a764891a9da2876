// Package api is the Profile service's HTTP API: POST /patientprofile. Every route is in this
// file; the operational routes (health, readiness, metrics) are package ops's.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// publisher is the Kafka side of the Profile service.
type publisher interface {
	Publish(ctx context.Context, e profile.Event) error
}

// NewHandler returns the Profile service's routes. Each request waits at most publishTimeout
// for the broker before it is answered 503.
func NewHandler(logger *slog.Logger, pub publisher, publishTimeout time.Duration) http.Handler {
	r := chi.NewRouter()
	r.Method(http.MethodPost, "/patientprofile", handlePostProfile(logger, pub, newStamper(time.Now), publishTimeout))
	return r
}
