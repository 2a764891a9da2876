package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/idempotency"
	"github.com/ankitamadan/patient-profile/internal/problem/problemtest"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// fakeKeys is the key table's state machine in memory, without its clock: a record held by a
// request stays held until it completes or releases (package idempotency tests the leases and
// the expiry against dynalite). Records are found again by their EventId, which the claim
// carries.
type fakeKeys struct {
	mu      sync.Mutex
	records map[string]*fakeKey // by scoped key
	err     error               // Begin fails with it
}

type fakeKey struct {
	fingerprint, eventID string
	stamp                time.Time
	held, done           bool
	status               int
	body                 []byte
}

func newFakeKeys() *fakeKeys { return &fakeKeys{records: map[string]*fakeKey{}} }

func (f *fakeKeys) Begin(_ context.Context, key, fp, eventID string, stamp time.Time) (idempotency.Claim, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return idempotency.Claim{}, f.err
	}
	r, ok := f.records[key]
	switch {
	case !ok:
		f.records[key] = &fakeKey{fingerprint: fp, eventID: eventID, stamp: stamp, held: true}
		return idempotency.Claim{Outcome: idempotency.First, EventID: eventID, Stamp: stamp}, nil
	case r.fingerprint != fp:
		return idempotency.Claim{Outcome: idempotency.Mismatched}, nil
	case r.done:
		return idempotency.Claim{Outcome: idempotency.Done, EventID: r.eventID, Stamp: r.stamp, Status: r.status,
			Body: r.body}, nil
	case r.held:
		return idempotency.Claim{Outcome: idempotency.InProgress, EventID: r.eventID, Stamp: r.stamp}, nil
	}
	r.held = true
	return idempotency.Claim{Outcome: idempotency.TakenOver, EventID: r.eventID, Stamp: r.stamp}, nil
}

func (f *fakeKeys) find(c idempotency.Claim) *fakeKey {
	for _, r := range f.records {
		if r.eventID == c.EventID {
			return r
		}
	}
	panic("no record for " + c.EventID)
}

func (f *fakeKeys) Complete(_ context.Context, c idempotency.Claim, status int, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.find(c)
	r.done, r.held, r.status, r.body = true, false, status, body
	return nil
}

func (f *fakeKeys) Release(_ context.Context, c idempotency.Claim) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.find(c).held = false
	return nil
}

func (f *fakeKeys) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// keyed serves the routes with keys in k, and tokens if any.
func keyed(pub publisher, k *fakeKeys, tokens ...string) http.Handler {
	return withOps(discard, pub, Config{PublishTimeout: time.Second, MaxInFlightPublishes: 8, Tokens: tokens,
		Keys: k, KeyTimeout: time.Second})
}

// send makes a request with the key (none if empty), and a token if not empty.
func send(h http.Handler, method, path, body, key, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set(keyHeader, key)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func stampOf(t *testing.T, rec *httptest.ResponseRecorder) map[string]string {
	t.Helper()
	var got map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), rec.Body.String())
	return got
}

func TestIdempotencyKeyHeader(t *testing.T) {
	tests := []struct {
		name       string
		values     []string
		keysOff    bool
		required   bool
		wantStatus int
		wantDetail string
	}{
		{name: "none", wantStatus: 201},
		{name: "a UUID", values: []string{"8e03978e-40d5-43e8-bc93-6894a57f9324"}, wantStatus: 201},
		{name: "one character", values: []string{"k"}, wantStatus: 201},
		{name: "255 characters, spaces and quotes", values: []string{`"a b` + strings.Repeat("~", 250) + `"`},
			wantStatus: 201},
		{name: "256 characters", values: []string{strings.Repeat("k", 256)}, wantStatus: 400,
			wantDetail: "the Idempotency-Key header must be 1 to 255 printable ASCII characters"},
		{name: "empty", values: []string{""}, wantStatus: 400, wantDetail: "1 to 255 printable ASCII"},
		{name: "a control character", values: []string{"a\tb"}, wantStatus: 400, wantDetail: "printable ASCII"},
		{name: "not ASCII", values: []string{"clé"}, wantStatus: 400, wantDetail: "printable ASCII"},
		{name: "two of them", values: []string{"a", "b"}, wantStatus: 400,
			wantDetail: "send one Idempotency-Key header, not 2"},
		{name: "required, and none", required: true, wantStatus: 400,
			wantDetail: "send an Idempotency-Key header: this producer requires one"},
		{name: "required, and one", required: true, values: []string{"k"}, wantStatus: 201},
		{name: "keys off, and one", keysOff: true, values: []string{"k"}, wantStatus: 400,
			wantDetail: "this producer keeps no Idempotency-Keys"},
		{name: "keys off, and none", keysOff: true, wantStatus: 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{http.MethodPost, http.MethodDelete} {
				pub := &fakePublisher{}
				cfg := Config{PublishTimeout: time.Second, MaxInFlightPublishes: 8, KeyTimeout: time.Second,
					KeyRequired: tt.required}
				if !tt.keysOff {
					cfg.Keys = newFakeKeys()
				}
				req := httptest.NewRequest(method, "/patientprofile", strings.NewReader(`{"PatientId":"1"}`))
				if method == http.MethodDelete {
					req = httptest.NewRequest(method, "/patientprofile/1", http.NoBody)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header[keyHeader] = tt.values
				rec := httptest.NewRecorder()
				withOps(discard, pub, cfg).ServeHTTP(rec, req)

				want := tt.wantStatus
				if method == http.MethodDelete && want == 201 {
					want = 202
				}
				if want >= 400 {
					got := problemtest.Require(t, rec, want)
					assert.Contains(t, got.Detail, tt.wantDetail)
					assert.Empty(t, pub.tried, "nothing is published")
					continue
				}
				require.Equal(t, want, rec.Code, "%s: %s", method, rec.Body.String())
				assert.Len(t, pub.events, 1)
			}
		})
	}
}

// The lost update, in the handler: A's first try is written but not acknowledged, B
// updates the patient, A retries. A's retry must carry A's first EventId and stamp, older than
// B's, so that the ordering rule keeps B's update.
func TestRetryWithAKeyPublishesTheFirstEvent(t *testing.T) {
	pub, k := &fakePublisher{}, newFakeKeys()
	h := keyed(pub, k)
	const a, b = `{"PatientId":"1","FirstName":"v1"}`, `{"PatientId":"1","FirstName":"v2"}`

	pub.setErr(errors.New("the ack was lost"))
	first := send(h, http.MethodPost, "/patientprofile", a, "key-a", "")
	problemtest.Require(t, first, http.StatusServiceUnavailable)
	assert.Contains(t, first.Body.String(), "retry with the same Idempotency-Key")
	require.Len(t, pub.tried, 1)
	firstTry := pub.tried[0]

	pub.setErr(nil)
	rb := send(h, http.MethodPost, "/patientprofile", b, "", "")
	require.Equal(t, http.StatusCreated, rb.Code, rb.Body.String())

	retry := send(h, http.MethodPost, "/patientprofile", a, "key-a", "")
	require.Equal(t, http.StatusCreated, retry.Code, retry.Body.String())
	assert.Empty(t, retry.Header().Get(replayedHeader), "the first answer, not a replay")
	require.Len(t, pub.events, 2)
	retried, updated := pub.events[1], pub.events[0]
	assert.Equal(t, firstTry, retried, "the retry publishes the first try's event, EventId and stamp included")
	assert.Equal(t, -1, profile.Compare(retried, updated), "so B's update stays the newest")
	assert.Equal(t, map[string]string{"EventId": firstTry.EventID, "PatientId": "1",
		"UpdatedAt": firstTry.UpdatedAt.Format(time.RFC3339Nano)}, stampOf(t, retry))

	again := send(h, http.MethodPost, "/patientprofile", a, "key-a", "")
	require.Equal(t, http.StatusCreated, again.Code)
	assert.Equal(t, "true", again.Header().Get(replayedHeader))
	assert.Equal(t, retry.Body.String(), again.Body.String(), "the same body")
	assert.Len(t, pub.events, 2, "a replay publishes nothing")
}

func TestKeyedAnswers(t *testing.T) {
	const token, other = "0123456789abcdef-token", "fedcba9876543210-other"
	const body = `{"PatientId":"1","FirstName":"John"}`
	tests := []struct {
		name string
		// run sends the requests and checks the last answer; it returns how many events the
		// whole run should have published.
		run func(t *testing.T, h http.Handler, k *fakeKeys) int
	}{
		{"a replay of a POST", func(t *testing.T, h http.Handler, _ *fakeKeys) int {
			first := send(h, http.MethodPost, "/patientprofile", body, "k", "")
			require.Equal(t, http.StatusCreated, first.Code)
			again := send(h, http.MethodPost, "/patientprofile", body, "k", "")
			require.Equal(t, http.StatusCreated, again.Code)
			assert.Equal(t, first.Body.String(), again.Body.String())
			assert.Equal(t, "true", again.Header().Get(replayedHeader))
			assert.Equal(t, "application/json", again.Header().Get("Content-Type"))
			return 1
		}},
		{"a replay of a DELETE", func(t *testing.T, h http.Handler, _ *fakeKeys) int {
			first := send(h, http.MethodDelete, "/patientprofile/1", "", "k", "")
			require.Equal(t, http.StatusAccepted, first.Code)
			again := send(h, http.MethodDelete, "/patientprofile/1", "", "k", "")
			require.Equal(t, http.StatusAccepted, again.Code)
			assert.Equal(t, first.Body.String(), again.Body.String())
			assert.Contains(t, again.Body.String(), `"DeletedAt"`)
			assert.Equal(t, "true", again.Header().Get(replayedHeader))
			return 1
		}},
		{"the key with another body", func(t *testing.T, h http.Handler, _ *fakeKeys) int {
			require.Equal(t, http.StatusCreated, send(h, http.MethodPost, "/patientprofile", body, "k", "").Code)
			got := problemtest.Require(t, send(h, http.MethodPost, "/patientprofile",
				`{"PatientId":"1","FirstName":"Jon"}`, "k", ""), http.StatusUnprocessableEntity)
			assert.Equal(t, "tag:patient-profile,2026:problem/idempotency-key-reused", got.Type)
			return 1
		}},
		{"the key with another method and path", func(t *testing.T, h http.Handler, _ *fakeKeys) int {
			require.Equal(t, http.StatusCreated, send(h, http.MethodPost, "/patientprofile", body, "k", "").Code)
			problemtest.Require(t, send(h, http.MethodDelete, "/patientprofile/1", "", "k", ""),
				http.StatusUnprocessableEntity)
			return 1
		}},
		{"a retry while the first is in progress", func(t *testing.T, h http.Handler, k *fakeKeys) int {
			k.records = busyKey(http.MethodPost, "/patientprofile", body).records
			rec := send(h, http.MethodPost, "/patientprofile", body, "busy", "")
			got := problemtest.Require(t, rec, http.StatusConflict)
			assert.Equal(t, "tag:patient-profile,2026:problem/idempotency-key-in-progress", got.Type)
			assert.Equal(t, "1", rec.Header().Get("Retry-After"))
			return 0
		}},
		{"the key store down: keyed 503, nothing published; unkeyed 201", func(t *testing.T, h http.Handler,
			k *fakeKeys) int {
			k.setErr(errors.New("dial tcp: connection refused"))
			rec := send(h, http.MethodPost, "/patientprofile", body, "k", "")
			got := problemtest.Require(t, rec, http.StatusServiceUnavailable)
			assert.Equal(t, "tag:patient-profile,2026:problem/key-store-unavailable", got.Type)
			assert.Equal(t, "1", rec.Header().Get("Retry-After"))
			assert.NotContains(t, got.Detail, "refused", "the cause is for the log")
			problemtest.Require(t, send(h, http.MethodDelete, "/patientprofile/1", "", "k", ""),
				http.StatusServiceUnavailable)
			require.Equal(t, http.StatusCreated, send(h, http.MethodPost, "/patientprofile", body, "", "").Code)
			return 1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, k := &fakePublisher{}, newFakeKeys()
			want := tt.run(t, keyed(pub, k), k)
			assert.Len(t, pub.tried, want)
		})
	}

	t.Run("keys are the caller's own", func(t *testing.T) {
		pub, k := &fakePublisher{}, newFakeKeys()
		h := keyed(pub, k, token, other)
		mine := send(h, http.MethodPost, "/patientprofile", body, "k", token)
		theirs := send(h, http.MethodPost, "/patientprofile", body, "k", other)
		require.Equal(t, http.StatusCreated, mine.Code)
		require.Equal(t, http.StatusCreated, theirs.Code)
		assert.Empty(t, theirs.Header().Get(replayedHeader), "another caller's answer is never shown")
		assert.NotEqual(t, stampOf(t, mine)["EventId"], stampOf(t, theirs)["EventId"])
		assert.Len(t, pub.events, 2)
		plain := sha256.Sum256([]byte("POST /patientprofile\n" + body))
		fingerprints := map[string]bool{}
		for scoped, r := range k.records {
			assert.NotContains(t, scoped, token, "the token is never stored")
			assert.NotContains(t, scoped, other)
			assert.NotEqual(t, hex.EncodeToString(plain[:]), r.fingerprint,
				"a plain hash of the body would let a reader of the table confirm a guessed name")
			fingerprints[r.fingerprint] = true
		}
		assert.Len(t, fingerprints, 2, "each caller's hash is keyed with its own secret")
	})
}

func TestKeyMetrics(t *testing.T) {
	pub, k := &fakePublisher{}, newFakeKeys()
	h := keyed(pub, k)
	const body = `{"PatientId":"1"}`
	send(h, http.MethodPost, "/patientprofile", body, "k", "")
	send(h, http.MethodPost, "/patientprofile", body, "k", "")
	send(h, http.MethodPost, "/patientprofile", body, "k", "")
	send(h, http.MethodPost, "/patientprofile", `{"PatientId":"2"}`, "k", "")
	k.records["anonymous busy"] = busyKey(http.MethodPost, "/patientprofile", body).records["anonymous busy"]
	send(h, http.MethodPost, "/patientprofile", body, "busy", "")
	pub.setErr(errors.New("down"))
	send(h, http.MethodPost, "/patientprofile", body, "failed", "")
	pub.setErr(nil)
	send(h, http.MethodPost, "/patientprofile", body, "failed", "")
	k.setErr(errors.New("down"))
	send(h, http.MethodPost, "/patientprofile", body, "k2", "")

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", http.NoBody))
	for _, want := range []string{
		`patient_profile_idempotency_requests_total{outcome="new"} 2`,
		`patient_profile_idempotency_requests_total{outcome="replayed"} 2`,
		`patient_profile_idempotency_requests_total{outcome="mismatched"} 1`,
		`patient_profile_idempotency_requests_total{outcome="conflict"} 1`,
		`patient_profile_idempotency_requests_total{outcome="taken_over"} 1`,
		`patient_profile_idempotency_requests_total{outcome="unavailable"} 1`,
	} {
		assert.Contains(t, rec.Body.String(), want)
	}
}
