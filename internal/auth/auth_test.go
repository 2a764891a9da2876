package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/auth"
)

// What is kept per caller (an Idempotency-Key and its answer) is kept under Caller: each token
// is a caller of its own, the same one on every request, and the id gives the token away to no
// one who reads it.
func TestCaller(t *testing.T) {
	const token, other = "0123456789abcdef-token", "fedcba9876543210-other"
	callerOf := func(tokens []string, authorization string) string {
		var got string
		h := auth.RequireToken(tokens)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got = auth.Caller(r.Context())
		}))
		req := httptest.NewRequest(http.MethodPost, "/", http.NoBody)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
		return got
	}
	tests := []struct {
		name, a, b string
		same       bool
	}{
		{"one token, twice", callerOf([]string{token, other}, "Bearer "+token),
			callerOf([]string{token, other}, "bearer "+token), true},
		{"two tokens", callerOf([]string{token, other}, "Bearer "+token),
			callerOf([]string{token, other}, "Bearer "+other), false},
		{"authentication off: one anonymous caller, whatever is sent", callerOf(nil, ""),
			callerOf(nil, "Bearer "+token), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEmpty(t, tt.a)
			assert.Equal(t, tt.same, tt.a == tt.b, "%s and %s", tt.a, tt.b)
			for _, id := range []string{tt.a, tt.b} {
				assert.NotContains(t, id, token)
				assert.NotContains(t, id, other)
				assert.NotContains(t, id, " ", "a space ends the caller in a scoped key")
			}
		})
	}
	assert.Equal(t, auth.Anonymous, callerOf(nil, "Bearer "+token))
}
