package ops

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ankitamadan/patient-profile/internal/version"
)

// handleHealthz says the process is up, and which build it is. It checks nothing else, so that an
// orchestrator does not restart a healthy process because Kafka or DynamoDB is down.
func handleHealthz() http.Handler {
	ok := map[string]string{"status": "ok", "version": version.String()}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		encode(w, http.StatusOK, ok)
	})
}

// handleReadyz says whether the process can do its work now: its dependencies answer. ready
// keeps the answer (1 or 0) for /metrics, so that an alert sees what the orchestrator's probe saw.
func handleReadyz(ready prometheus.Gauge, checks ...checker) http.Handler {
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
			ready.Set(0)
			encode(w, http.StatusServiceUnavailable,
				map[string]string{"status": "not ready", "error": strings.Join(problems, "; ")})
			return
		}
		ready.Set(1)
		encode(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
