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
	ids := make([]string, len(tokens))
	for i, t := range tokens {
		sums[i] = sha256.Sum256([]byte(t))
		ids[i] = Fingerprint(t)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
				problem.Write(w, r, problem.Errorf(problem.Unauthorized, "send Authorization: Bearer <token>"))
				return
			}
			got := sha256.Sum256([]byte(strings.TrimSpace(token)))
			match, which := 0, 0
			for i, want := range sums {
				eq := subtle.ConstantTimeCompare(got[:], want[:])
				match |= eq
				which = subtle.ConstantTimeSelect(eq, i, which)
			}
			if match != 1 {
				problem.Write(w, r, problem.Errorf(problem.Unauthorized, "the bearer token is not valid"))
				return
			}
			// The token's hash, from which CallerOf derives the caller when a handler asks: most
			// requests never do.
			ctx := context.WithValue(WithIdentity(r.Context(), ids[which]), callerKey{}, &got)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// Fingerprint names a token in an audit line without revealing it: "token:" and the first eight
// hex digits of its SHA-256.
func Fingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(sum[:4])
}

type identityKey struct{}

// WithIdentity returns ctx carrying who made the request, for audit lines.
func WithIdentity(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, identityKey{}, who)
}

// Identity is who made the request: the fingerprint of the token it sent, or "" when the route
// is open (authentication off).
func Identity(ctx context.Context) string {
	who, _ := ctx.Value(identityKey{}).(string)
	return who
}

// Caller is who sent a request, as RequireToken let it through. Whatever is kept per caller, such
// as an Idempotency-Key and its answer, is kept under its ID, so that one caller never sees
// another's.
type Caller struct {
	// ID names the caller: derived from its token (never the token itself), or "anonymous".
	ID string
	// Secret is known only to whoever holds the token; nil without authentication. A hash of a
	// request keyed with it, stored beside the ID, cannot be used by a reader of the store to
	// confirm a guess of what the request said.
	Secret []byte
}

// Anonymous is the one caller of routes without authentication.
var Anonymous = Caller{ID: "anonymous"}

type callerKey struct{}

// callerOf derives a caller from the SHA-256 of its token: the ID from one half, by way of hex,
// and the secret from all of it, by way of another hash, so that neither gives the other away.
func callerOf(sum [sha256.Size]byte) Caller {
	secret := sha256.Sum256(append([]byte("patient-profile caller secret\x00"), sum[:]...))
	return Caller{ID: "token:" + hex.EncodeToString(sum[:16]), Secret: secret[:]}
}

// CallerOf is the request's caller; Anonymous when authentication is off.
func CallerOf(ctx context.Context) Caller {
	if sum, ok := ctx.Value(callerKey{}).(*[sha256.Size]byte); ok {
		return callerOf(*sum)
	}
	return Anonymous
}
