package auth_test

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/auth"
)

// What is kept per caller (an Idempotency-Key and its answer) is kept under its Caller: each token
// is a caller of its own, the same one on every request, and neither the ID nor the secret gives
// the token away, nor the ID the secret.
func TestCaller(t *testing.T) {
	const token, other = "0123456789abcdef-token", "fedcba9876543210-other"
	callerOf := func(tokens []string, authorization string) auth.Caller {
		var got auth.Caller
		h := auth.RequireToken(tokens)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got = auth.CallerOf(r.Context())
		}))
		req := httptest.NewRequest(http.MethodPost, "/", http.NoBody)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
		return got
	}
	tests := []struct {
		name string
		a, b auth.Caller
		same bool
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
			require.NotEmpty(t, tt.a.ID)
			assert.Equal(t, tt.same, tt.a.ID == tt.b.ID, "%s and %s", tt.a.ID, tt.b.ID)
			assert.Equal(t, tt.same, bytes.Equal(tt.a.Secret, tt.b.Secret))
			for _, c := range []auth.Caller{tt.a, tt.b} {
				assert.NotContains(t, c.ID, token)
				assert.NotContains(t, c.ID, other)
				assert.NotContains(t, c.ID, " ", "a space ends the caller in a scoped key")
				if c.Secret != nil {
					assert.NotContains(t, c.ID, hex.EncodeToString(c.Secret[:8]), "the ID gives no part of the secret away")
				}
			}
		})
	}
	assert.Equal(t, auth.Anonymous, callerOf(nil, "Bearer "+token))
	assert.Nil(t, auth.Anonymous.Secret)
	assert.Len(t, callerOf([]string{token}, "Bearer "+token).Secret, 32)
}
