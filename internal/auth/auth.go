// Package auth closes routes to strangers: a bearer token, one of those configured, on every
// request. Both services' APIs use it, for the same patient data.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
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
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, callerID(got))))
		})
	}
}

// Anonymous is the one caller of routes without authentication.
const Anonymous = "anonymous"

type callerKey struct{}

// callerID names the holder of a token by half of its SHA-256: enough to tell callers apart, and
// nothing a reader of a stored id could turn back into the token.
func callerID(sum [sha256.Size]byte) string { return "token:" + hex.EncodeToString(sum[:16]) }

// Caller is who sent the request, as RequireToken let it through: an id derived from its token
// (never the token), or Anonymous when authentication is off. Whatever is kept per caller, such
// as an Idempotency-Key and its answer, is kept under this id, so that one caller never sees
// another's.
func Caller(ctx context.Context) string {
	if id, ok := ctx.Value(callerKey{}).(string); ok {
		return id
	}
	return Anonymous
}
