package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// readTimeout bounds one read of the table, so that a hung store is a 503, not a hung request.
const readTimeout = 3 * time.Second

// handleGetProfile answers with the stored profile as JSON, in the event's own form (the
// contract the README documents), and an ETag derived from its ordering key: the ETag changes
// exactly when the row moves to a newer event, so a client can poll with If-None-Match and get a
// 304 until then. An absent patient and an erased one (a tombstone) are both 404: the replica
// holds nothing about them. The read is consistent (DynamoDB's strongly consistent read).
func handleGetProfile(profiles reader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathPatientID(w, r)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
		defer cancel()
		e, ok, err := profiles.Get(ctx, id)
		if err != nil {
			writeError(w, r, errorf(kindStoreUnavailable, "the replica could not be read; retry later"))
			return
		}
		if !ok || e.Deleted {
			writeError(w, r, errorf(kindNotFound, "no profile for this patient"))
			return
		}
		etag := `"` + url.PathEscape(e.OrderKey()) + `"`
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", "private, no-cache")
		if matches(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		encode(w, http.StatusOK, e)
	})
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

// reader is the replica as the read route uses it.
type reader interface {
	Get(ctx context.Context, patientID string) (profile.Event, bool, error)
}

// pathPatientID is the {PatientId} of the path, or false once the 400 naming it is written.
func pathPatientID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := chi.URLParam(r, "PatientId")
	if !validPatientID.MatchString(id) {
		e := errorf(kindInvalid, "the patient id in the path is invalid")
		e.fields = []fieldError{fieldProblem("PatientId", "must be 1 to 64 characters, each a letter A-Z or a-z, a digit, '-' or '.'")}
		writeError(w, r, e)
		return "", false
	}
	return id, true
}
