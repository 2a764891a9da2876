// Package replica is the consumer's HTTP API: the read of its replica,
// GET /patientprofile/{PatientId}, behind the same bearer tokens as the producer's writes (the
// patient data is the same), and its OpenAPI document. The operational routes are package ops's,
// which mounts these.
package replica

import (
	"context"
	_ "embed"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ankitamadan/patient-profile/internal/audit"
	"github.com/ankitamadan/patient-profile/internal/auth"
	"github.com/ankitamadan/patient-profile/internal/problem"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// reader is the replica as the read route uses it.
type reader interface {
	Get(ctx context.Context, patientID string) (profile.Event, bool, error)
}

// openAPI is the route's contract; TestOpenAPIConformance holds the handler to it.
//
//go:embed openapi.yaml
var openAPI []byte

// NewHandler returns the consumer's routes. Each read of a profile writes an audit line to logger.
func NewHandler(logger *slog.Logger, profiles reader, tokens []string) http.Handler {
	r := problem.NewRouter()
	r.With(auth.RequireToken(tokens)).Method(http.MethodGet, "/patientprofile/{PatientId}",
		handleGetProfile(logger, profiles))
	r.Method(http.MethodGet, "/openapi.yaml", handleOpenAPI())
	return r
}

// readTimeout bounds one read of the table, so that a hung store is a 503, not a hung request.
const readTimeout = 3 * time.Second

// handleGetProfile answers with the stored profile as JSON, in the event's own form (the
// contract docs/event.md documents), and an ETag derived from its ordering key: the ETag changes
// exactly when the row moves to a newer event, so a client can poll with If-None-Match and get a
// 304 until then. An absent patient and an erased one (a tombstone) are both 404: the replica
// holds nothing about them. The read is consistent (DynamoDB's strongly consistent read).
//
// Every read of the store leaves an audit line (who, which patient, found or not), never the
// profile itself.
func handleGetProfile(logger *slog.Logger, profiles reader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "PatientId")
		if !profile.ValidPatientID(id) {
			problem.Write(w, r,
				problem.InvalidField("the patient id in the path is invalid", "PatientId", profile.PatientIDRule))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
		defer cancel()
		e, ok, err := profiles.Get(ctx, id)
		if err != nil {
			problem.Write(w, r, problem.Errorf(problem.StoreUnavailable, "the replica could not be read; retry later"))
			return
		}
		audit.Log(r.Context(), logger, who(r), "replica", slog.String("patient_id", id),
			slog.Bool("found", ok && !e.Deleted))
		if !ok || e.Deleted {
			problem.Write(w, r, problem.Errorf(problem.NotFound, "no profile for this patient"))
			return
		}
		etag := `"` + url.PathEscape(e.OrderKey()) + `"`
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", "private, no-cache")
		if matches(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// The event's own encoder escapes what JSON must and HTML could misread (<, >, &).
		_, _ = w.Write(append(e.AppendJSON(nil), '\n')) //nolint:gosec // G705: JSON, as Content-Type says
	})
}

// who is the reader for the audit line: the token's fingerprint, or, with authentication off,
// "anonymous" and the address the request came from.
func who(r *http.Request) string {
	if id := auth.Identity(r.Context()); id != "" {
		return id
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "anonymous@" + host
}

// matches reports whether an If-None-Match header names etag (or is "*").
func matches(header, etag string) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}

func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openAPI)
	})
}
