package ops

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// handleHealthz says the process is up. It checks nothing else, so that an orchestrator does not
// restart a healthy process because Kafka or DynamoDB is down.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz says whether the process can do its work now: its dependencies answer.
func handleReadyz(checks ...checker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		var errs []error
		for _, c := range checks {
			errs = append(errs, c.Ping(ctx))
		}
		if err := errors.Join(errs...); err != nil {
			encode(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": err.Error()})
			return
		}
		encode(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
