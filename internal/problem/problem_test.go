package problem_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ankitamadan/patient-profile/internal/problem"
	"github.com/ankitamadan/patient-profile/internal/problem/problemtest"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantType   string
		wantHeader http.Header
		wantDetail string
	}{
		{name: "an invalid request", err: problem.InvalidField("bad", "Sex", "must be one of male, female"),
			wantStatus: 400, wantType: "invalid-request", wantDetail: "bad"},
		{name: "a 401 names the scheme", err: problem.Errorf(problem.Unauthorized, "send a token"),
			wantStatus: 401, wantType: "unauthorized", wantHeader: http.Header{"Www-Authenticate": {`Bearer realm="patient-profile"`}}},
		{name: "a 503 says when to retry", err: problem.Errorf(problem.BrokerUnavailable, "later"),
			wantStatus: 503, wantType: "broker-unavailable", wantHeader: http.Header{"Retry-After": {"1"}}},
		{name: "a 409 says when to retry", err: problem.Errorf(problem.KeyInProgress, "later"),
			wantStatus: 409, wantType: "idempotency-key-in-progress", wantHeader: http.Header{"Retry-After": {"1"}}},
		{name: "a 422 does not: it would fail again", err: problem.Errorf(problem.KeyReused, "new key"),
			wantStatus: 422, wantType: "idempotency-key-reused", wantHeader: http.Header{"Retry-After": nil}},
		{name: "the key store's 503 says when to retry", err: problem.Errorf(problem.KeyStoreUnavailable, "later"),
			wantStatus: 503, wantType: "key-store-unavailable", wantHeader: http.Header{"Retry-After": {"1"}}},
		{name: "a 405 names the methods", err: &problem.Error{Kind: problem.MethodNotAllowed, Detail: "no",
			Header: http.Header{"Allow": {"GET"}}},
			wantStatus: 405, wantType: "method-not-allowed", wantHeader: http.Header{"Allow": {"GET"}}},
		{name: "any other error is a 500 that says nothing of its cause", err: errors.New("secret cause"),
			wantStatus: 500, wantType: "internal", wantDetail: "the server failed to answer; the request id identifies it in the logs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Header().Set("X-Request-Id", "req-1")
			problem.Write(rec, httptest.NewRequest(http.MethodPost, "/patientprofile", http.NoBody), tt.err)

			got := problemtest.Require(t, rec, tt.wantStatus)
			assert.Equal(t, "tag:patient-profile,2026:problem/"+tt.wantType, got.Type)
			assert.Equal(t, "/patientprofile", got.Instance)
			assert.Equal(t, "req-1", got.RequestID)
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			for k, v := range tt.wantHeader {
				assert.Equal(t, v, rec.Header().Values(k), k)
			}
			if tt.wantDetail != "" {
				assert.Equal(t, tt.wantDetail, got.Detail)
			}
			assert.NotContains(t, rec.Body.String(), "secret")
		})
	}
}

func TestFieldError(t *testing.T) {
	tests := []struct {
		name, field        string
		wantField, wantPtr string
	}{
		{"a plain name", "Sex", "Sex", "/Sex"},
		{"a pointer escapes / and ~", "a/b~c", "a/b~c", "/a~1b~0c"},
		{"a huge name is cut, on a rune boundary", strings.Repeat("é", 40), strings.Repeat("é", 32) + "...", "/" + strings.Repeat("é", 32) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problem.FieldError(tt.field, "is wrong")
			assert.Equal(t, problem.Field{Field: tt.wantField, Pointer: tt.wantPtr, Detail: "is wrong"}, got)
		})
	}
}
