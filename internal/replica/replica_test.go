package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/auth"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
	"github.com/ankitamadan/patient-profile/internal/ops"
	"github.com/ankitamadan/patient-profile/internal/problem/problemtest"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// fakeReader is the replica: rows by patient, or err for every read.
type fakeReader struct {
	rows map[string]profile.Event
	err  error
}

func (f fakeReader) Get(_ context.Context, id string) (profile.Event, bool, error) {
	e, ok := f.rows[id]
	return e, ok, f.err
}

var replicaRows = map[string]profile.Event{
	"1": {EventID: "0193c1f0-0000-7000-8000-000000000001", PatientID: "1", FirstName: "John", LastName: "Doe", Sex: "female",
		UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 500_000_000, time.UTC)},
	"odd":  {EventID: `an "odd" id`, PatientID: "odd", UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)},
	"gone": {EventID: "d", PatientID: "gone", Deleted: true, UpdatedAt: time.Date(2026, 1, 2, 5, 0, 1, 0, time.UTC)},
}

// withOps serves the routes as the consumer binary does: mounted under package ops, which gives
// every answer its request id.
func withOps(rows fakeReader, tokens []string) http.Handler {
	return ops.NewHandler(slog.New(slog.DiscardHandler), ops.NewRegistry(), NewHandler(slog.New(slog.DiscardHandler), rows, tokens))
}

// A read of the replica leaves one audit line: who (the token's fingerprint), which patient,
// which view; and never a profile value.
func TestGetProfileWritesAnAuditLine(t *testing.T) {
	const token = "0123456789abcdef-token"
	tests := []struct {
		name, auth string
		tokens     []string
		wantWho    string
	}{
		{name: "with a token", tokens: []string{"another-token-0000", token}, auth: token, wantWho: auth.Fingerprint(token)},
		{name: "authentication off", wantWho: "anonymous@192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := logtest.New(t)
			h := ops.NewHandler(slog.New(slog.DiscardHandler), ops.NewRegistry(),
				NewHandler(slog.New(slog.NewJSONHandler(logs, nil)), fakeReader{rows: replicaRows}, tt.tokens))
			req := httptest.NewRequest(http.MethodGet, "/patientprofile/1", http.NoBody)
			if tt.auth != "" {
				req.Header.Set("Authorization", "Bearer "+tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code)
			lines := logs.Lines()
			require.Len(t, lines, 1, "one audit line per read")
			var line map[string]any
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &line))
			assert.Equal(t, "audit", line["msg"])
			assert.Equal(t, tt.wantWho, line["who"])
			assert.Equal(t, "replica", line["view"])
			assert.Equal(t, "1", line["patient_id"])
			assert.NotContains(t, lines[0], "John", "an audit line never carries a profile value")
			assert.NotContains(t, lines[0], "female")
		})
	}
}

func TestGetProfile(t *testing.T) {
	const token = "0123456789abcdef-token"
	tests := []struct {
		name        string
		path        string
		rows        fakeReader
		tokens      []string
		auth        string
		ifNoneMatch string
		wantStatus  int
	}{
		{name: "a stored profile", path: "/patientprofile/1", rows: fakeReader{rows: replicaRows}, wantStatus: 200},
		{name: "an EventId with quotes still makes a valid ETag", path: "/patientprofile/odd", rows: fakeReader{rows: replicaRows}, wantStatus: 200},
		{name: "an absent patient", path: "/patientprofile/2", rows: fakeReader{rows: replicaRows}, wantStatus: 404},
		{name: "an erased patient", path: "/patientprofile/gone", rows: fakeReader{rows: replicaRows}, wantStatus: 404},
		{name: "an id outside FHIR's rule", path: "/patientprofile/a_b", rows: fakeReader{rows: replicaRows}, wantStatus: 400},
		{name: "the store down", path: "/patientprofile/1", rows: fakeReader{err: errors.New("connection refused")}, wantStatus: 503},
		{name: "no token", path: "/patientprofile/1", rows: fakeReader{rows: replicaRows}, tokens: []string{token}, wantStatus: 401},
		{name: "the token", path: "/patientprofile/1", rows: fakeReader{rows: replicaRows}, tokens: []string{token}, auth: token, wantStatus: 200},
		{name: "unchanged since", path: "/patientprofile/1", rows: fakeReader{rows: replicaRows}, ifNoneMatch: `"2026-01-02T05:00:00.500000000Z%230193c1f0-0000-7000-8000-000000000001"`, wantStatus: 304},
		{name: "changed since", path: "/patientprofile/1", rows: fakeReader{rows: replicaRows}, ifNoneMatch: `"2026-01-01T00:00:00.000000000Z%23x"`, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, http.NoBody)
			if tt.auth != "" {
				req.Header.Set("Authorization", "Bearer "+tt.auth)
			}
			if tt.ifNoneMatch != "" {
				req.Header.Set("If-None-Match", tt.ifNoneMatch)
			}
			rec := httptest.NewRecorder()
			withOps(tt.rows, tt.tokens).ServeHTTP(rec, req)

			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			switch tt.wantStatus {
			case 200:
				want := tt.rows.rows[tt.path[len("/patientprofile/"):]]
				got, err := profile.Decode(rec.Body.Bytes())
				require.NoError(t, err, "the body is the event contract")
				assert.Equal(t, want, got)
				assert.Regexp(t, `^"[\x21\x23-\x7e]+"$`, rec.Header().Get("ETag"))
			case 304:
				assert.Empty(t, rec.Body.String())
			default:
				problemtest.Require(t, rec, tt.wantStatus)
			}
		})
	}
}

// The ETag changes exactly when the row moves to a newer event.
func TestGetProfileETagFollowsTheOrderingKey(t *testing.T) {
	e := replicaRows["1"]
	etag := func(e profile.Event) string {
		rec := httptest.NewRecorder()
		withOps(fakeReader{rows: map[string]profile.Event{"1": e}}, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/patientprofile/1", http.NoBody))
		require.Equal(t, http.StatusOK, rec.Code)
		return rec.Header().Get("ETag")
	}
	same := e
	same.FirstName = "changed without a newer event"
	newer := e
	newer.UpdatedAt = e.UpdatedAt.Add(time.Nanosecond)
	assert.Equal(t, etag(e), etag(same))
	assert.NotEqual(t, etag(e), etag(newer))
}

func TestOpenAPIConformance(t *testing.T) {
	doc, err := libopenapi.NewDocument(openAPI)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	require.True(t, ok, "the spec itself is invalid: %v", verrs)

	tests := []struct {
		name        string
		path        string
		rows        fakeReader
		wantStatus  int
		specRejects bool
	}{
		{"found", "/patientprofile/1", fakeReader{rows: replicaRows}, 200, false},
		{"absent", "/patientprofile/2", fakeReader{rows: replicaRows}, 404, false},
		{"erased", "/patientprofile/gone", fakeReader{rows: replicaRows}, 404, false},
		{"store down", "/patientprofile/1", fakeReader{err: errors.New("down")}, 503, false},
		{"bad id", "/patientprofile/a_b", fakeReader{rows: replicaRows}, 400, true},
		{"the spec", "/openapi.yaml", fakeReader{}, 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newRequest := func() *http.Request { return httptest.NewRequest(http.MethodGet, tt.path, http.NoBody) }
			rec := httptest.NewRecorder()
			withOps(tt.rows, nil).ServeHTTP(rec, newRequest())
			resp := rec.Result()
			require.Equal(t, tt.wantStatus, resp.StatusCode, rec.Body.String())

			reqOK, reqErrs := v.ValidateHttpRequestSync(newRequest())
			assert.Equal(t, !tt.specRejects, reqOK, "the spec on the request: %v", reqErrs)
			resp.Body = io.NopCloser(bytes.NewReader(rec.Body.Bytes()))
			respOK, respErrs := v.ValidateHttpResponse(newRequest(), resp)
			assert.True(t, respOK, "the answer is not in the spec: %v\n%s", respErrs, rec.Body.String())
			if tt.wantStatus == 200 && tt.path != "/openapi.yaml" {
				var body map[string]any
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			}
		})
	}
}
