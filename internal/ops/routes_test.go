package ops

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/consumer"
	"github.com/ankitamadan/patient-profile/internal/version"
)

type fakeChecker struct{ err error }

func (f fakeChecker) Ping(context.Context) error { return f.err }

var discard = slog.New(slog.DiscardHandler)

func TestHealth(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		ready      []checker
		wantStatus int
	}{
		{"healthz ignores dependencies", "/healthz", []checker{fakeChecker{errors.New("down")}}, http.StatusOK},
		{"readyz when every dependency answers", "/readyz", []checker{fakeChecker{}, fakeChecker{}}, http.StatusOK},
		{"readyz when one does not", "/readyz", []checker{fakeChecker{}, fakeChecker{errors.New("kafka metadata: connection refused")}}, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			NewHandler(discard, NewRegistry(), nil, tt.ready...).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, http.NoBody))
			assert.Equal(t, tt.wantStatus, rec.Code)
		})
	}
}

// The application's routes are mounted under the operational ones and measured by their
// pattern, never by the raw path.
func TestMetrics(t *testing.T) {
	app := chi.NewRouter()
	app.Post("/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		if chi.URLParam(r, "id") == "bad" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	reg := NewRegistry()
	RegisterConsumer(reg, func() *consumer.Consumer { return nil })
	h := NewHandler(discard, reg, app)
	for _, path := range []string{"/things/1", "/things/2", "/things/bad", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, path, http.NoBody))
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", http.NoBody))
	require.Equal(t, http.StatusOK, rec.Code)
	for _, want := range []string{
		`patient_profile_http_requests_total{code="201",route="/things/{id}"} 2`,
		`patient_profile_http_requests_total{code="400",route="/things/{id}"} 1`,
		`patient_profile_http_requests_total{code="404",route="unmatched"} 1`,
		`patient_profile_http_request_duration_seconds_count{route="/things/{id}"} 3`,
		`patient_profile_consumer_events_total{outcome="applied"} 0`,
		`patient_profile_consumer_retries_total 0`,
		`patient_profile_consumer_commit_failures_total 0`,
		`patient_profile_consumer_dead_letters_total{reason="future"} 0`,
		`go_goroutines `,
	} {
		assert.Contains(t, rec.Body.String(), want)
	}
}

// /healthz says which build answers, as /metrics does; /metrics keeps what /readyz last answered.
func TestVersionAndReadiness(t *testing.T) {
	down := &fakeChecker{err: errors.New("kafka metadata: connection refused")} // changed between requests
	reg := NewRegistry()
	h := NewHandler(discard, reg, nil, down)
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, http.NoBody))
		return rec
	}

	assert.JSONEq(t, `{"status":"ok","version":"`+version.String()+`"}`, get("/healthz").Body.String())
	metrics := get("/metrics").Body.String()
	assert.Contains(t, metrics, `patient_profile_build_info{version="`+version.String()+`"} 1`)
	// The sample's line, not the help text's.
	assert.Contains(t, metrics, "\npatient_profile_ready 0\n", "ready before anyone asked")

	require.Equal(t, http.StatusServiceUnavailable, get("/readyz").Code)
	assert.Contains(t, get("/metrics").Body.String(), "\npatient_profile_ready 0\n")
	down.err = nil
	require.Equal(t, http.StatusOK, get("/readyz").Code)
	assert.Contains(t, get("/metrics").Body.String(), "\npatient_profile_ready 1\n")
	down.err = errors.New("dynamodb table patient-profile: not found")
	require.Equal(t, http.StatusServiceUnavailable, get("/readyz").Code)
	assert.Contains(t, get("/metrics").Body.String(), "\npatient_profile_ready 0\n")
}

// The consumer's /readyz names everything it waits for, on one line, as its log does.
func TestReadyzNamesWhatIsMissing(t *testing.T) {
	h := NewHandler(discard, NewRegistry(), nil, fakeChecker{errors.New("kafka topic nosuchtopic: not found")}, fakeChecker{},
		fakeChecker{errors.New("dynamodb table patient-profile: not found")})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", http.NoBody))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.JSONEq(t, `{"status":"not ready","error":"kafka topic nosuchtopic: not found; dynamodb table patient-profile: not found"}`, rec.Body.String())
}
