package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/ops"
	"github.com/ankitamadan/patient-profile/internal/problem/problemtest"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// fakePublisher records what it is given and answers with err, or waits for ctx if block is set.
// events are those it acknowledged; tried are all it was given, failed ones included (a broker
// may have written one whose acknowledgement was lost).
type fakePublisher struct {
	mu     sync.Mutex
	events []profile.Event
	tried  []profile.Event
	err    error
	block  bool
}

func (f *fakePublisher) Publish(ctx context.Context, e profile.Event) error {
	f.mu.Lock()
	f.tried = append(f.tried, e)
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.events = append(f.events, e)
	return nil
}

// setErr makes the next publishes fail with err (nil: succeed).
func (f *fakePublisher) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// discard is the handlers' logger where the test does not read the log.
var discard = slog.New(slog.DiscardHandler)

// withOps serves the routes as the producer binary does: mounted under package ops, which gives
// every request its id, span, log line and metrics.
func withOps(logger *slog.Logger, pub publisher, cfg Config) http.Handler {
	reg := ops.NewRegistry()
	return ops.NewHandler(logger, reg, NewHandler(logger, pub, cfg, reg))
}

func newTestHandler(pub *fakePublisher, timeout time.Duration) http.Handler {
	return withOps(discard, pub, Config{PublishTimeout: timeout, MaxInFlightPublishes: 64})
}

func post(t *testing.T, h http.Handler, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/patientprofile", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	return rec
}

func TestPostProfileAccepted(t *testing.T) {
	tests := []struct {
		name string
		body string
		want profile.Event // EventID and UpdatedAt are checked separately
	}{
		{
			name: "the README example, IsPregnant as the string False",
			body: `{"PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":"False","Sex":"Female"}`,
			want: profile.Event{PatientID: "1", FirstName: "John", LastName: "Doe", IsPregnant: false, Sex: "female"},
		},
		{
			name: "Sex in any case is stored as the lower-case code",
			body: `{"PatientId":"a-Z.9","Sex":"UnKnown"}`,
			want: profile.Event{PatientID: "a-Z.9", Sex: "unknown"},
		},
		{
			name: "the longest PatientId and names, non-ASCII letters",
			body: `{"PatientId":"` + strings.Repeat("9", 64) + `","FirstName":"` + strings.Repeat("é", maxNameRunes) + `","LastName":"Ñoño"}`,
			want: profile.Event{PatientID: strings.Repeat("9", 64), FirstName: strings.Repeat("é", maxNameRunes), LastName: "Ñoño"},
		},
		{
			name: "IsPregnant as a JSON boolean",
			body: `{"PatientId":"2","IsPregnant":true}`,
			want: profile.Event{PatientID: "2", IsPregnant: true},
		},
		{
			name: "IsPregnant as an upper-case string",
			body: `{"PatientId":"3","IsPregnant":"TRUE"}`,
			want: profile.Event{PatientID: "3", IsPregnant: true},
		},
		{
			name: "null means absent",
			body: `{"PatientId":"4","FirstName":null,"Sex":null}`,
			want: profile.Event{PatientID: "4"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &fakePublisher{}
			before := time.Now().UTC()
			rec := post(t, newTestHandler(pub, time.Second), tt.body)

			require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
			require.Len(t, pub.events, 1)
			got := pub.events[0]
			assert.NotEmpty(t, got.EventID)
			assert.NotEqual(t, "mine", got.EventID)
			assert.Equal(t, time.UTC, got.UpdatedAt.Location())
			assert.False(t, got.UpdatedAt.Before(before), "UpdatedAt %s is before the request", got.UpdatedAt)

			var resp map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
			assert.Equal(t, map[string]string{"EventId": got.EventID, "PatientId": tt.want.PatientID, "UpdatedAt": got.UpdatedAt.Format(time.RFC3339Nano)}, resp)

			tt.want.EventID, tt.want.UpdatedAt = got.EventID, got.UpdatedAt
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPostProfileRejected(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantFields []string // nil: a problem with the body as a whole
	}{
		{"malformed JSON", `{"PatientId":"1",`, http.StatusBadRequest, nil},
		{"empty body", ``, http.StatusBadRequest, nil},
		{"array body", `[{"PatientId":"1"}]`, http.StatusBadRequest, nil},
		{"null body", `null`, http.StatusBadRequest, nil},
		{"two values", `{"PatientId":"1"}{"PatientId":"2"}`, http.StatusBadRequest, nil},
		{"trailing garbage", `{"PatientId":"1"} x`, http.StatusBadRequest, nil},
		{"missing PatientId", `{"FirstName":"John"}`, http.StatusBadRequest, []string{"PatientId"}},
		{"empty PatientId", `{"PatientId":""}`, http.StatusBadRequest, []string{"PatientId"}},
		{"blank PatientId", `{"PatientId":"   "}`, http.StatusBadRequest, []string{"PatientId"}},
		{"numeric PatientId", `{"PatientId":1}`, http.StatusBadRequest, []string{"PatientId"}},
		{"path in PatientId", `{"PatientId":"../../etc"}`, http.StatusBadRequest, []string{"PatientId"}},
		{"PatientId too long", `{"PatientId":"` + strings.Repeat("x", 65) + `"}`, http.StatusBadRequest, []string{"PatientId"}},
		{"PatientId with a space", `{"PatientId":"a b"}`, http.StatusBadRequest, []string{"PatientId"}},
		{"IsPregnant not a boolean word", `{"PatientId":"1","IsPregnant":"maybe"}`, http.StatusBadRequest, []string{"IsPregnant"}},
		{"IsPregnant a number", `{"PatientId":"1","IsPregnant":1}`, http.StatusBadRequest, []string{"IsPregnant"}},
		{"FirstName a number", `{"PatientId":"1","FirstName":42}`, http.StatusBadRequest, []string{"FirstName"}},
		{"FirstName too long", `{"PatientId":"1","FirstName":"` + strings.Repeat("é", maxNameRunes+1) + `"}`, http.StatusBadRequest, []string{"FirstName"}},
		{"LastName with a control character", `{"PatientId":"1","LastName":"Doe\u0007"}`, http.StatusBadRequest, []string{"LastName"}},
		{"LastName an object", `{"PatientId":"1","LastName":{}}`, http.StatusBadRequest, []string{"LastName"}},
		{"Sex an array", `{"PatientId":"1","Sex":["F"]}`, http.StatusBadRequest, []string{"Sex"}},
		{"Sex not a FHIR code", `{"PatientId":"1","Sex":"Banana"}`, http.StatusBadRequest, []string{"Sex"}},
		{"Sex empty", `{"PatientId":"1","Sex":""}`, http.StatusBadRequest, []string{"Sex"}},
		{"Sex with a Kelvin sign for k", `{"PatientId":"1","Sex":"unKnown"}`, http.StatusBadRequest, []string{"Sex"}},
		{"an unknown field", `{"PatientId":"1","Diagnosis":"x"}`, http.StatusBadRequest, []string{"Diagnosis"}},
		{"a field in the wrong case", `{"patientId":"1","PatientId":"1"}`, http.StatusBadRequest, []string{"patientId"}},
		{"server-stamped fields", `{"PatientId":"1","UpdatedAt":"2000-01-01T00:00:00Z","EventId":"mine"}`, http.StatusBadRequest, []string{"EventId", "UpdatedAt"}},
		{"invalid UTF-8 in a name", "{\"PatientId\":\"1\",\"FirstName\":\"Jo\xffhn\"}", http.StatusBadRequest, []string{"FirstName"}},
		{"invalid UTF-8 in two fields", "{\"PatientId\":\"1\xc3\",\"LastName\":\"\xed\xa0\x80\"}", http.StatusBadRequest, []string{"LastName", "PatientId"}},
		{"every bad field at once", `{"PatientId":7,"FirstName":true,"IsPregnant":"yes","Sex":1,"Extra":0}`, http.StatusBadRequest, []string{"Extra", "FirstName", "IsPregnant", "PatientId", "Sex"}},
		{"body too large", `{"PatientId":"1","FirstName":"` + strings.Repeat("x", maxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &fakePublisher{}
			rec := post(t, newTestHandler(pub, time.Second), tt.body)

			got := problemtest.Require(t, rec, tt.wantStatus)
			var fields []string
			for _, f := range got.Errors {
				fields = append(fields, f.Field)
				assert.Equal(t, "/"+f.Field, f.Pointer)
				assert.NotEmpty(t, f.Detail, "no detail for %s", f.Field)
			}
			assert.Equal(t, tt.wantFields, fields)
			assert.Empty(t, pub.events, "an invalid request was published")
		})
	}
}

// requireProblem checks that rec is an RFC 9457 problem with the status, carrying the request
// id of the answer, and returns it.
func TestSexAndNamesAreNeverEchoed(t *testing.T) {
	rec := post(t, newTestHandler(&fakePublisher{}, time.Second), `{"PatientId":"1","FirstName":"Zebediah\u0001","Sex":"Quux-Sex","IsPregnant":"Quux-Preg"}`)
	got := problemtest.Require(t, rec, http.StatusBadRequest)
	assert.Len(t, got.Errors, 3)
	for _, secret := range []string{"Zebediah", "Quux"} {
		assert.NotContains(t, rec.Body.String(), secret)
	}
}

func TestContentType(t *testing.T) {
	tests := []struct {
		contentType string
		wantStatus  int
	}{
		{"application/json", http.StatusCreated},
		{"application/json; charset=utf-8", http.StatusCreated},
		{"Application/JSON; charset=UTF-8", http.StatusCreated},
		{"", http.StatusUnsupportedMediaType},
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"application/json; charset=latin1", http.StatusUnsupportedMediaType},
		{"application/jsonx", http.StatusUnsupportedMediaType},
		{"application/json; =", http.StatusUnsupportedMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.contentType, func(t *testing.T) {
			pub := &fakePublisher{}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/patientprofile", strings.NewReader(`{"PatientId":"1"}`))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			newTestHandler(pub, time.Second).ServeHTTP(rec, req)
			if tt.wantStatus != http.StatusCreated {
				problemtest.Require(t, rec, tt.wantStatus)
				assert.Empty(t, pub.events)
				return
			}
			assert.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			assert.Len(t, pub.events, 1)
		})
	}
}

func TestAuthentication(t *testing.T) {
	const token, other = "0123456789abcdef-token", "fedcba9876543210-other"
	tests := []struct {
		name          string
		tokens        []string
		authorization string
		wantStatus    int
	}{
		{"off: no header needed", nil, "", http.StatusCreated},
		{"on: no header", []string{token}, "", http.StatusUnauthorized},
		{"on: the token", []string{token}, "Bearer " + token, http.StatusCreated},
		{"on: the scheme in another case", []string{token}, "bearer " + token, http.StatusCreated},
		{"on: the second of two tokens", []string{other, token}, "Bearer " + token, http.StatusCreated},
		{"on: a wrong token", []string{token}, "Bearer " + other, http.StatusUnauthorized},
		{"on: a prefix of the token", []string{token}, "Bearer " + token[:10], http.StatusUnauthorized},
		{"on: the token plus more", []string{token}, "Bearer " + token + "x", http.StatusUnauthorized},
		{"on: another scheme", []string{token}, "Basic " + token, http.StatusUnauthorized},
		{"on: the scheme alone", []string{token}, "Bearer", http.StatusUnauthorized},
		{"on: the token without a scheme", []string{token}, token, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &fakePublisher{}
			h := withOps(discard, pub, Config{PublishTimeout: time.Second, MaxInFlightPublishes: 1, Tokens: tt.tokens})
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/patientprofile", strings.NewReader(`{"PatientId":"1"}`))
			req.Header.Set("Content-Type", "application/json")
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			h.ServeHTTP(rec, req)
			if tt.wantStatus == http.StatusUnauthorized {
				problemtest.Require(t, rec, http.StatusUnauthorized)
				assert.True(t, strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer"), rec.Header().Get("WWW-Authenticate"))
				assert.Empty(t, pub.events)
				return
			}
			assert.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())

			// The operational routes stay open.
			for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, http.NoBody))
				assert.Equal(t, http.StatusOK, rec.Code, path)
			}
		})
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	tests := []struct {
		method, path string
		wantStatus   int
		wantAllow    string
	}{
		{http.MethodGet, "/nothing", http.StatusNotFound, ""},
		{http.MethodPost, "/patientprofile/1", http.StatusMethodNotAllowed, "DELETE"},
		{http.MethodGet, "/patientprofile/1/x", http.StatusNotFound, ""},
		{http.MethodGet, "/patientprofile", http.StatusMethodNotAllowed, "POST"},
		{http.MethodDelete, "/patientprofile", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			newTestHandler(&fakePublisher{}, time.Second).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, http.NoBody))
			problemtest.Require(t, rec, tt.wantStatus)
			assert.Equal(t, tt.wantAllow, rec.Header().Get("Allow"))
		})
	}
}

func TestRequestID(t *testing.T) {
	tests := []struct {
		name, sent string
		keep       bool
	}{
		{"none sent: a new one", "", false},
		{"a plain one is kept", "gateway-1234.abc", true},
		{"a strange one is replaced", "a b\x00c", false},
		{"a huge one is replaced", strings.Repeat("a", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/healthz", http.NoBody)
			req.Header.Set("X-Request-Id", tt.sent)
			newTestHandler(&fakePublisher{}, time.Second).ServeHTTP(rec, req)
			got := rec.Header().Get("X-Request-Id")
			require.NotEmpty(t, got)
			assert.Equal(t, tt.keep, got == tt.sent, "got %q for %q", got, tt.sent)
		})
	}
}

func TestLoadShedding(t *testing.T) {
	const bound = 3
	pub := &gatedPublisher{entered: make(chan struct{}, 100), release: make(chan struct{})}
	h := withOps(discard, pub, Config{PublishTimeout: time.Minute, MaxInFlightPublishes: bound})

	held := make(chan *httptest.ResponseRecorder, bound)
	for range bound {
		go func() { held <- post(t, h, `{"PatientId":"1"}`) }()
	}
	for range bound {
		<-pub.entered
	}
	// The bound is reached: the next request is turned away at once, not queued.
	rec := post(t, h, `{"PatientId":"1"}`)
	problemtest.Require(t, rec, http.StatusServiceUnavailable)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))

	close(pub.release)
	for range bound {
		assert.Equal(t, http.StatusCreated, (<-held).Code)
	}
	// The slots are given back.
	assert.Equal(t, http.StatusCreated, post(t, h, `{"PatientId":"1"}`).Code)
}

// gatedPublisher holds every publish until release is closed, saying on entered when one starts.
type gatedPublisher struct {
	entered chan struct{}
	release chan struct{}
}

func (g *gatedPublisher) Publish(ctx context.Context, _ profile.Event) error {
	g.entered <- struct{}{}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestPostProfileBrokerDown(t *testing.T) {
	tests := []struct {
		name string
		pub  *fakePublisher
	}{
		{"publish fails", &fakePublisher{err: errors.New("dial tcp 127.0.0.1:9092: connection refused")}},
		{"publish hangs", &fakePublisher{block: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			rec := post(t, newTestHandler(tt.pub, 50*time.Millisecond), `{"PatientId":"1"}`)

			problemtest.Require(t, rec, http.StatusServiceUnavailable)
			assert.Equal(t, "1", rec.Header().Get("Retry-After"))
			assert.Less(t, time.Since(start), 5*time.Second, "a hung broker must not hang the request")
			assert.NotContains(t, rec.Body.String(), "EventId")
		})
	}
}

func TestStampNeverRepeatsOrGoesBack(t *testing.T) {
	base := time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)
	readings := []time.Time{base, base, base.Add(-time.Hour), base.Add(time.Millisecond), base.Add(time.Millisecond)}
	i := 0
	s := newStamper(func() time.Time { t := readings[i]; i++; return t })

	var prev time.Time
	ids := map[string]bool{}
	for range readings {
		ts, id := s.stamp()
		assert.True(t, ts.After(prev), "got %s after %s", ts, prev)
		assert.False(t, ids[id], "repeated id %s", id)
		prev, ids[id] = ts, true
	}
}

func TestMetrics(t *testing.T) {
	h := newTestHandler(&fakePublisher{}, time.Second)
	post(t, h, `{"PatientId":"1"}`)
	post(t, h, `{"PatientId":"1"}`)
	post(t, h, `{"PatientId":""}`)
	failing := withOps(discard, &fakePublisher{err: errors.New("down")}, Config{PublishTimeout: time.Second, MaxInFlightPublishes: 1})
	post(t, failing, `{"PatientId":"1"}`)

	for name, tt := range map[string]struct {
		h    http.Handler
		want []string
	}{
		"accepted and rejected": {h, []string{
			`patient_profile_http_requests_total{code="201",route="/patientprofile"} 2`,
			`patient_profile_http_requests_total{code="400",route="/patientprofile"} 1`,
			`patient_profile_http_request_duration_seconds_count{route="/patientprofile"} 3`,
			`patient_profile_events_published_total 2`,
			`patient_profile_events_publish_failed_total 0`,
			`patient_profile_publish_duration_seconds_count{outcome="published"} 2`,
			`go_goroutines `,
		}},
		"broker down": {failing, []string{
			`patient_profile_http_requests_total{code="503",route="/patientprofile"} 1`,
			`patient_profile_events_published_total 0`,
			`patient_profile_events_publish_failed_total 1`,
			`patient_profile_publish_duration_seconds_count{outcome="failed"} 1`,
		}},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", http.NoBody))
			require.Equal(t, http.StatusOK, rec.Code)
			for _, w := range tt.want {
				assert.Contains(t, rec.Body.String(), w)
			}
		})
	}
}

// The handler's own cost per request, without the broker: decode, validate, stamp, encode.
func BenchmarkPostProfile(b *testing.B) {
	h := withOps(discard, &fakePublisher{}, Config{PublishTimeout: time.Second, MaxInFlightPublishes: 1})
	body := `{"PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":"False","Sex":"Female"}`
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/patientprofile", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("got %d", rec.Code)
		}
	}
}

type panickingPublisher struct{}

func (panickingPublisher) Publish(context.Context, profile.Event) error { panic("boom") }

func TestPanicIsAProblem(t *testing.T) {
	h := withOps(discard, panickingPublisher{}, Config{PublishTimeout: time.Second, MaxInFlightPublishes: 1})
	rec := post(t, h, `{"PatientId":"1"}`)
	got := problemtest.Require(t, rec, http.StatusInternalServerError)
	assert.NotContains(t, got.Detail, "boom", "the cause is for the log, not the client")
	// The slot is given back: the next request is not shed.
	assert.Equal(t, http.StatusInternalServerError, post(t, h, `{"PatientId":"1"}`).Code)
}

func TestDeleteProfile(t *testing.T) {
	const token = "0123456789abcdef-token"
	tests := []struct {
		name          string
		path          string
		tokens        []string
		authorization string
		pub           *fakePublisher
		wantStatus    int
	}{
		{"erased", "/patientprofile/a.B-9", nil, "", &fakePublisher{}, http.StatusAccepted},
		{"with the token", "/patientprofile/1", []string{token}, "Bearer " + token, &fakePublisher{}, http.StatusAccepted},
		{"without the token", "/patientprofile/1", []string{token}, "", &fakePublisher{}, http.StatusUnauthorized},
		{"an id outside FHIR's rule", "/patientprofile/a_b", nil, "", &fakePublisher{}, http.StatusBadRequest},
		{"an id too long", "/patientprofile/" + strings.Repeat("x", 65), nil, "", &fakePublisher{}, http.StatusBadRequest},
		{"the broker down", "/patientprofile/1", nil, "", &fakePublisher{err: errors.New("down")}, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := withOps(discard, tt.pub, Config{PublishTimeout: time.Second, MaxInFlightPublishes: 1, Tokens: tt.tokens})
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodDelete, tt.path, http.NoBody)
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			before := time.Now().UTC()
			h.ServeHTTP(rec, req)

			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			if tt.wantStatus != http.StatusAccepted {
				problemtest.Require(t, rec, tt.wantStatus)
				assert.Empty(t, tt.pub.events, "nothing is published")
				return
			}
			require.Len(t, tt.pub.events, 1)
			got := tt.pub.events[0]
			assert.True(t, got.Deleted)
			assert.Equal(t, strings.TrimPrefix(tt.path, "/patientprofile/"), got.PatientID)
			assert.Empty(t, got.FirstName+got.LastName+got.Sex)
			assert.False(t, got.UpdatedAt.Before(before), "stamped like an update")
			assert.NotEmpty(t, got.EventID)
			var resp map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
			assert.Equal(t, map[string]string{"EventId": got.EventID, "PatientId": got.PatientID, "DeletedAt": got.UpdatedAt.Format(time.RFC3339Nano)}, resp)
		})
	}
}
