package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"strings"

	"github.com/ankitamadan/patient-profile/internal/auth"
	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/problem"
)

// contentSecurityPolicy allows the console's own files and nothing else: no inline script, no
// inline style, no frames, and forms that post only to the console.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// tokenCookie carries a token a person typed into the login form, so that the browser sends it
// with every page and with the live updates, which cannot carry an Authorization header.
const tokenCookie = "console_token"

// loopbackWho is who a request is when the console is open to loopback alone.
const loopbackWho = "loopback"

// access decides who may look, and makes and checks the CSRF tokens of write actions.
type access struct {
	sums [][sha256.Size]byte
	ids  []string
	// secret keys the CSRF tokens; it lives as long as the process, so a form outlives no restart.
	secret []byte
}

func newAccess(tokens []string, secret string) *access {
	a := &access{secret: []byte(secret)}
	for _, t := range tokens {
		a.sums = append(a.sums, sha256.Sum256([]byte(t)))
		a.ids = append(a.ids, auth.Fingerprint(t))
	}
	return a
}

// identify returns who sent r: the fingerprint of the token it carries, in Authorization or in
// the cookie, compared in constant time as package auth does; or "loopback" when the console
// takes no token. ok is false when a token is needed and r has none that matches.
func (a *access) identify(r *http.Request) (who string, ok bool) {
	if len(a.sums) == 0 {
		return loopbackWho, true
	}
	token := ""
	scheme, t, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if found && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(t)
	} else if c, err := r.Cookie(tokenCookie); err == nil {
		token = c.Value
	}
	if token == "" {
		return "", false
	}
	got := sha256.Sum256([]byte(token))
	match, which := 0, 0
	for i, want := range a.sums {
		eq := subtle.ConstantTimeCompare(got[:], want[:])
		match |= eq
		which = subtle.ConstantTimeSelect(eq, i, which)
	}
	if match != 1 {
		return "", false
	}
	return a.ids[which], true
}

// csrf is the token a write form carries for who: a keyed hash, so that another site, which can
// make a browser post but cannot read the console's pages, cannot know it.
func (a *access) csrf(who string) string {
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(who))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// checkWrite refuses a write that another site may have caused: one a browser marks as
// cross-site or same-site (Sec-Fetch-Site), one from another origin (Origin), or one without the
// form's CSRF token.
func (a *access) checkWrite(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return problem.Errorf(problem.Forbidden, "a write action must come from the console's own pages, "+
			"not from another site")
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != "http://"+r.Host && origin != "https://"+r.Host {
		return problem.Errorf(problem.Forbidden, "a write action must come from the console's own origin")
	}
	want := a.csrf(who(r.Context()))
	if got := r.PostFormValue("csrf"); subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return problem.Errorf(problem.Forbidden, "the form's CSRF token is missing or stale: reload the page "+
			"and submit it again")
	}
	return nil
}

type whoKey struct{}

// who is who made the request, as protect identified them.
func who(ctx context.Context) string {
	w, _ := ctx.Value(whoKey{}).(string)
	return w
}

// protect sets the security headers on every answer and lets through only who may look. Without
// tokens the console listens on loopback, and it also refuses a Host that is not a loopback name,
// so that a web page whose name was rebound to 127.0.0.1 (DNS rebinding) cannot read it.
func (c *Console) protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on a form post.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if len(c.access.sums) == 0 && !config.IsLoopback(hostOnly(r.Host)) {
			c.fail(w, r, problem.Errorf(problem.Forbidden, "the console answers only to localhost, 127.0.0.1 or [::1] "+
				"unless it has a token (CONSOLE_TOKEN)"))
			return
		}
		id, ok := c.access.identify(r)
		if !ok && !strings.HasPrefix(r.URL.Path, "/static/") && r.URL.Path != "/login" {
			c.login(w, r, http.StatusUnauthorized, "")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), whoKey{}, id)))
	})
}

func hostOnly(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return strings.Trim(hostport, "[]")
}
