// Package api is the services' HTTP APIs: the Profile service's writes (POST /patientprofile,
// DELETE /patientprofile/{PatientId}) and the consumer's read of its replica (GET
// /patientprofile/{PatientId}), each with its OpenAPI document.
// Every route is in this file; the operational routes (health, readiness, metrics) and what
// every request gets (an id, a span, a log line) are package ops's, which mounts these.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

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
}

// NewHandler returns the Profile service's routes. Publish metrics go to reg.
func NewHandler(logger *slog.Logger, pub publisher, cfg Config, reg prometheus.Registerer) http.Handler {
	r := chi.NewRouter()
	r.NotFound(handleNotFound())
	r.MethodNotAllowed(handleMethodNotAllowed(r))
	p := &publishing{logger: logger, pub: measurePublishes(pub, reg), stamper: newStamper(time.Now), timeout: cfg.PublishTimeout,
		inFlight: make(chan struct{}, max(cfg.MaxInFlightPublishes, 1))}
	r.Group(func(r chi.Router) {
		r.Use(requireToken(cfg.Tokens))
		r.Method(http.MethodPost, "/patientprofile", handlePostProfile(p))
		r.Method(http.MethodDelete, "/patientprofile/{PatientId}", handleDeleteProfile(p))
	})
	r.Method(http.MethodGet, "/openapi.yaml", handleOpenAPI(openAPI))
	return r
}

// NewReadHandler returns the consumer's read of the replica, GET /patientprofile/{PatientId},
// behind the same bearer tokens as the producer's writes (the patient data is the same), and its
// OpenAPI document.
func NewReadHandler(profiles reader, tokens []string) http.Handler {
	r := chi.NewRouter()
	r.NotFound(handleNotFound())
	r.MethodNotAllowed(handleMethodNotAllowed(r))
	r.With(requireToken(tokens)).Method(http.MethodGet, "/patientprofile/{PatientId}", handleGetProfile(profiles))
	r.Method(http.MethodGet, "/openapi.yaml", handleOpenAPI(replicaOpenAPI))
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
