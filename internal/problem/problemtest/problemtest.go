// Package problemtest checks problem answers in tests.
package problemtest

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/problem"
)

// Require checks that rec is a complete problem answer with the status, and returns its body.
func Require(t testing.TB, rec *httptest.ResponseRecorder, status int) problem.Body {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var got problem.Body
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), rec.Body.String())
	assert.Equal(t, status, got.Status)
	assert.True(t, strings.HasPrefix(got.Type, "tag:patient-profile,2026:problem/"), "type %q", got.Type)
	assert.NotEmpty(t, got.Title)
	assert.NotEmpty(t, got.Detail)
	assert.NotEmpty(t, got.RequestID)
	assert.Equal(t, rec.Header().Get("X-Request-Id"), got.RequestID)
	return got
}
