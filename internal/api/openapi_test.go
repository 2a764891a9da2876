package api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenAPIConformance sends real requests to the handler and checks, with libopenapi-validator,
// that every answer is one the spec describes, and that the spec and the handler agree on which
// requests are valid: a request the handler publishes must be valid under the spec, and one the
// spec refuses must be refused by the handler.
func TestOpenAPIConformance(t *testing.T) {
	doc, err := libopenapi.NewDocument(openAPI)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	require.True(t, ok, "the spec itself is invalid: %v", verrs)

	const token = "0123456789abcdef-token"
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		auth        string
		body        string
		pub         *fakePublisher
		// key is the Idempotency-Key, if any; keys the key table (a fresh one if nil), and
		// first, if set, a request to send before the one checked (the same one, for a replay).
		key        string
		keys       *fakeKeys
		first      bool
		wantStatus int
		wantHeader string
		// specRejects: the request is outside the spec (the handler must refuse it too).
		specRejects bool
	}{
		{name: "the README example", body: `{"PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":"False","Sex":"Female"}`, wantStatus: 201},
		{name: "booleans and nulls", body: `{"PatientId":"a.B-9","IsPregnant":true,"Sex":null,"FirstName":null}`, wantStatus: 201},
		{name: "just the id", body: `{"PatientId":"42"}`, wantStatus: 201},
		{name: "names at the bound", body: `{"PatientId":"1","FirstName":"` + strings.Repeat("é", maxNameRunes) + `"}`, wantStatus: 201},
		{name: "broker down", body: `{"PatientId":"1"}`, pub: &fakePublisher{err: io.ErrUnexpectedEOF}, wantStatus: 503},
		{name: "Sex Banana", body: `{"PatientId":"1","Sex":"Banana"}`, wantStatus: 400, specRejects: true},
		{name: "unknown field", body: `{"PatientId":"1","Diagnosis":"x"}`, wantStatus: 400, specRejects: true},
		{name: "server-stamped field", body: `{"PatientId":"1","EventId":"x"}`, wantStatus: 400, specRejects: true},
		{name: "PatientId a path", body: `{"PatientId":"../../etc"}`, wantStatus: 400, specRejects: true},
		{name: "PatientId missing", body: `{"FirstName":"John"}`, wantStatus: 400, specRejects: true},
		{name: "name too long", body: `{"PatientId":"1","LastName":"` + strings.Repeat("x", maxNameRunes+1) + `"}`, wantStatus: 400, specRejects: true},
		{name: "control character", body: `{"PatientId":"1","LastName":"a\u0000b"}`, wantStatus: 400, specRejects: true},
		{name: "IsPregnant maybe", body: `{"PatientId":"1","IsPregnant":"maybe"}`, wantStatus: 400, specRejects: true},
		{name: "not an object", body: `[1]`, wantStatus: 400, specRejects: true},
		{name: "text/plain", contentType: "text/plain", body: `{"PatientId":"1"}`, wantStatus: 415, specRejects: true},
		{name: "too large", body: `{"PatientId":"1","FirstName":"` + strings.Repeat("x", maxBodyBytes) + `"}`, wantStatus: 413, specRejects: true},
		{name: "no token", auth: "-", body: `{"PatientId":"1"}`, wantStatus: 401},
		{name: "with the token", auth: token, body: `{"PatientId":"1"}`, wantStatus: 201},
		{name: "healthz", method: http.MethodGet, path: "/healthz", wantStatus: 200},
		{name: "readyz", method: http.MethodGet, path: "/readyz", wantStatus: 200},
		{name: "metrics", method: http.MethodGet, path: "/metrics", wantStatus: 200},
		{name: "the spec", method: http.MethodGet, path: "/openapi.yaml", wantStatus: 200},
		{name: "a deletion", method: http.MethodDelete, path: "/patientprofile/a.B-9", wantStatus: 202},
		{name: "a deletion, broker down", method: http.MethodDelete, path: "/patientprofile/1", pub: &fakePublisher{err: io.ErrUnexpectedEOF}, wantStatus: 503},
		{name: "a deletion without the token", method: http.MethodDelete, path: "/patientprofile/1", auth: "-", wantStatus: 401},
		{name: "a deletion with the token", method: http.MethodDelete, path: "/patientprofile/1", auth: token, wantStatus: 202},
		{name: "a deletion of a bad id", method: http.MethodDelete, path: "/patientprofile/..%2Fetc", wantStatus: 400, specRejects: true},
		{name: "with a key", key: "8e03978e-40d5-43e8-bc93-6894a57f9324", body: `{"PatientId":"1"}`, wantStatus: 201},
		{name: "a replay", key: "k", first: true, body: `{"PatientId":"1"}`, wantStatus: 201, wantHeader: replayedHeader},
		{name: "a key in progress", key: "busy", keys: busyKey(http.MethodPost, "/patientprofile", `{"PatientId":"1"}`),
			body: `{"PatientId":"1"}`, wantStatus: 409, wantHeader: "Retry-After"},
		{name: "a key reused", key: "busy", keys: busyKey(http.MethodPost, "/patientprofile", `{"PatientId":"2"}`),
			body: `{"PatientId":"1"}`, wantStatus: 422},
		{name: "the key store down", key: "k", keys: &fakeKeys{err: io.ErrUnexpectedEOF}, body: `{"PatientId":"1"}`,
			wantStatus: 503},
		{name: "a key too long", key: strings.Repeat("k", 256), body: `{"PatientId":"1"}`, wantStatus: 400, specRejects: true},
		{name: "a key not ASCII", key: "clé", body: `{"PatientId":"1"}`, wantStatus: 400, specRejects: true},
		{name: "a deletion with a key", method: http.MethodDelete, path: "/patientprofile/1", key: "d", wantStatus: 202},
		{name: "a deletion replayed", method: http.MethodDelete, path: "/patientprofile/1", key: "d", first: true,
			wantStatus: 202, wantHeader: replayedHeader},
		{name: "a deletion with a key in progress", method: http.MethodDelete, path: "/patientprofile/1", key: "busy",
			keys: busyKey(http.MethodDelete, "/patientprofile/1", ""), wantStatus: 409},
		{name: "a deletion with a key reused", method: http.MethodDelete, path: "/patientprofile/1", key: "busy",
			keys: busyKey(http.MethodPost, "/patientprofile", ""), wantStatus: 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, path, contentType, pub := tt.method, tt.path, tt.contentType, tt.pub
			if method == "" {
				method, path = http.MethodPost, "/patientprofile"
			}
			if contentType == "" && method == http.MethodPost {
				contentType = "application/json"
			}
			if pub == nil {
				pub = &fakePublisher{}
			}
			keys := tt.keys
			if keys == nil {
				keys = newFakeKeys()
			}
			cfg := Config{PublishTimeout: time.Second, MaxInFlightPublishes: 4, Keys: keys, KeyTimeout: time.Second}
			if tt.auth != "" {
				cfg.Tokens = []string{token}
			}
			h := withOps(discard, pub, cfg)

			newRequest := func() *http.Request {
				req := httptest.NewRequest(method, path, strings.NewReader(tt.body))
				if contentType != "" {
					req.Header.Set("Content-Type", contentType)
				}
				if tt.auth != "" && tt.auth != "-" {
					req.Header.Set("Authorization", "Bearer "+tt.auth)
				}
				if tt.key != "" {
					req.Header.Set(keyHeader, tt.key)
				}
				return req
			}
			if tt.first {
				h.ServeHTTP(httptest.NewRecorder(), newRequest())
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, newRequest())
			resp := rec.Result()
			require.Equal(t, tt.wantStatus, resp.StatusCode, rec.Body.String())
			if tt.wantHeader != "" {
				assert.NotEmpty(t, resp.Header.Get(tt.wantHeader), tt.wantHeader)
			}

			reqOK, reqErrs := v.ValidateHttpRequestSync(newRequest())
			assert.Equal(t, !tt.specRejects, reqOK, "the spec on the request: %v", reqErrs)

			resp.Body = io.NopCloser(bytes.NewReader(rec.Body.Bytes()))
			respOK, respErrs := v.ValidateHttpResponse(newRequest(), resp)
			assert.True(t, respOK, "the answer is not in the spec: %v\n%s", respErrs, rec.Body.String())
		})
	}
}

// busyKey is a key table where "busy" is held by a request with this method, path and body.
func busyKey(method, path, body string) *fakeKeys {
	k := newFakeKeys()
	k.records["anonymous busy"] = &fakeKey{fingerprint: fingerprint(httptest.NewRequest(method, path, http.NoBody),
		[]byte(body)), eventID: "e", held: true}
	return k
}

func TestOpenAPIServed(t *testing.T) {
	rec := httptest.NewRecorder()
	newTestHandler(&fakePublisher{}, time.Second).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.yaml", http.NoBody))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/yaml", rec.Header().Get("Content-Type"))
	assert.True(t, strings.HasPrefix(rec.Body.String(), "openapi: 3.1.0\n"))
}
