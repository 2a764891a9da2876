package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ankitamadan/patient-profile/internal/problem"
)

// Handler returns every route of the console. Each page has a stable URL a person can paste into
// a ticket.
func (c *Console) Handler() http.Handler {
	r := problem.NewRouter()
	r.Use(timed, c.protect)
	r.Method(http.MethodGet, "/", c.handleOverview())
	r.Method(http.MethodGet, "/live/overview", c.handleLiveOverview())
	r.Method(http.MethodGet, "/messages", http.RedirectHandler("/topics/"+url.PathEscape(c.cfg.Topic),
		http.StatusSeeOther))
	r.Method(http.MethodGet, "/topics/{topic}", c.handleTopic())
	r.Method(http.MethodGet, "/topics/{topic}/partitions/{partition}", c.handleMessages())
	r.Method(http.MethodGet, "/topics/{topic}/partitions/{partition}/offsets/{offset}", c.handleMessage())
	r.Method(http.MethodGet, "/find", c.handleFind())
	r.Method(http.MethodGet, "/patients", c.handlePatientSearch())
	r.Method(http.MethodGet, "/patients/{id}", c.handlePatient())
	r.Method(http.MethodGet, "/deadletters", c.handleDeadLetters())
	r.Method(http.MethodPost, "/deadletters/replay", c.handleReplay())
	r.Method(http.MethodGet, "/table", c.handleTable())
	r.Method(http.MethodGet, "/try", c.handleTryForm())
	r.Method(http.MethodPost, "/try", c.handleTry())
	r.Method(http.MethodGet, "/login", c.handleLoginForm())
	r.Method(http.MethodPost, "/login", c.handleLogin())
	r.Method(http.MethodGet, "/static/*", http.StripPrefix("/static/", http.FileServerFS(static())))
	return r
}

type startKey struct{}

// pageTimeout bounds a page's reads of the broker, the table and the services, so that a hung
// dependency is an error page rather than a page that never comes.
const pageTimeout = 15 * time.Second

// timed notes when the request arrived, for the Server-Timing of its answer, and bounds every
// request but the live stream by pageTimeout.
func timed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), startKey{}, time.Now())
		if !strings.HasPrefix(r.URL.Path, "/live/") {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, pageTimeout)
			defer cancel()
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// addTiming adds how long the request has taken so far to the answer's Server-Timing.
func addTiming(w http.ResponseWriter, r *http.Request, name string) {
	if start, ok := r.Context().Value(startKey{}).(time.Time); ok {
		took := float64(time.Since(start)) / float64(time.Millisecond)
		w.Header().Add("Server-Timing", fmt.Sprintf("%s;dur=%.3f", name, took))
	}
}

// handlePatientSearch sends the search box's PatientId to the timeline's own URL.
func (c *Console) handlePatientSearch() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		if id == "" {
			c.render(w, r, http.StatusOK, "patients", view{Title: "Patients", Nav: "patients"})
			return
		}
		http.Redirect(w, r, "/patients/"+url.PathEscape(id), http.StatusSeeOther)
	})
}
