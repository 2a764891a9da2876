package console

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// handleOverview is the overview as the latest shared poll saw it; its script then keeps it
// current through /live/overview.
func (c *Console) handleOverview() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := c.hub.Current(r.Context())
		w.Header().Add("Server-Timing", fmt.Sprintf("poll;dur=%.3f", float64(s.Took)/float64(time.Millisecond)))
		c.render(w, r, http.StatusOK, "overview", view{Title: "Overview", Nav: "overview", Data: s})
	})
}

// handleLiveOverview streams the overview's live part as server-sent events: one event per shared
// poll, each the part's HTML, rendered by the same template as the page.
func (c *Console) handleLiveOverview() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snapshots, stop := c.hub.Watch()
		defer stop()
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		// The server's write timeout is for pages; a stream extends it at each event.
		_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		_ = rc.Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-c.stopped:
				return
			case s := <-snapshots:
				var buf bytes.Buffer
				if err := pages["overview"].ExecuteTemplate(&buf, "live", s); err != nil {
					c.logger.Error("render live overview", "error", err.Error())
					return
				}
				_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
				var ev strings.Builder
				ev.WriteString("event: overview\n")
				for line := range strings.SplitSeq(buf.String(), "\n") {
					ev.WriteString("data: " + line + "\n")
				}
				ev.WriteString("\n")
				if _, err := w.Write([]byte(ev.String())); err != nil {
					return
				}
				if err := rc.Flush(); err != nil {
					return
				}
			}
		}
	})
}

// handleLoginForm asks for a token.
func (c *Console) handleLoginForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.login(w, r, http.StatusOK, "")
	})
}

// login shows the token form with status: a browser cannot send an Authorization header with a
// navigation, so a person types the token once and the console keeps it in a cookie.
func (c *Console) login(w http.ResponseWriter, r *http.Request, status int, problemText string) {
	next := r.URL.RequestURI()
	if r.URL.Path == "/login" {
		next = r.URL.Query().Get("next")
	}
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/"
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/html") && status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="patient-profile console"`)
	}
	c.render(w, r, status, "login", view{Title: "Sign in", Data: struct{ Next, Problem string }{next, problemText}})
}

// handleLogin checks the typed token and keeps it in a cookie only this site's own requests
// carry (SameSite=Strict) and no script can read (HttpOnly).
func (c *Console) handleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
			c.login(w, r, http.StatusForbidden, "Sign in from the console's own page.")
			return
		}
		token := strings.TrimSpace(r.PostFormValue("token"))
		probe := r.Clone(r.Context())
		probe.Header.Set("Authorization", "Bearer "+token)
		if _, ok := c.access.identify(probe); !ok || len(c.access.sums) == 0 {
			c.login(w, r, http.StatusUnauthorized, "That token does not open the console.")
			return
		}
		// Secure only over TLS: the console serves plain HTTP, where a Secure cookie is never sent.
		cookie := &http.Cookie{Name: tokenCookie, Value: token, Path: "/", HttpOnly: true, //nolint:gosec // G124: above
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
		http.SetCookie(w, cookie)
		next := r.PostFormValue("next")
		if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
			next = "/"
		}
		// next is a path on this site: checked above.
		http.Redirect(w, r, next, http.StatusSeeOther) //nolint:gosec // G710: see above
	})
}
