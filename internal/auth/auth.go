// Package auth closes routes to strangers: a bearer token, one of those configured, on every
// request. Both services' APIs use it, for the same patient data.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/ankitamadan/patient-profile/internal/problem"
)

// RequireToken lets a request through only with `Authorization: Bearer <token>` for one of
// tokens. With no tokens it lets everything through: authentication is off.
//
// Both sides are hashed before comparing, so the comparison is over equal lengths and takes the
// same time whatever the token's length, and every token is compared, so the time does not say
// which one matched either.
func RequireToken(tokens []string) func(http.Handler) http.Handler {
	if len(tokens) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	sums := make([][sha256.Size]byte, len(tokens))
	for i, t := range tokens {
		sums[i] = sha256.Sum256([]byte(t))
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
				problem.Write(w, r, problem.Errorf(problem.Unauthorized, "send Authorization: Bearer <token>"))
				return
			}
			got := sha256.Sum256([]byte(strings.TrimSpace(token)))
			match := 0
			for _, want := range sums {
				match |= subtle.ConstantTimeCompare(got[:], want[:])
			}
			if match != 1 {
				problem.Write(w, r, problem.Errorf(problem.Unauthorized, "the bearer token is not valid"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
