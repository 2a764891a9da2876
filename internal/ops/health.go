package ops

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// handleHealthz says the process is up. It checks nothing else, so that an orchestrator does not
// restart a healthy process because Kafka or DynamoDB is down.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz says whether the process can do its work now: its dependencies answer.
func handleReadyz(checks ...checker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		// One line naming everything that is missing, as the consumer logs it while it waits.
		var problems []string
		for _, p := range checks {
			if err := p.Ping(ctx); err != nil {
				problems = append(problems, err.Error())
			}
		}
		if len(problems) > 0 {
			encode(w, http.StatusServiceUnavailable,
				map[string]string{"status": "not ready", "error": strings.Join(problems, "; ")})
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
