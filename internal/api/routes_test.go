package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// fakePublisher records what it is given and answers with err, or waits for ctx if block is set.
type fakePublisher struct {
	mu     sync.Mutex
	events []profile.Event
	err    error
	block  bool
}

func (f *fakePublisher) Publish(ctx context.Context, e profile.Event) error {
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

func newTestHandler(pub *fakePublisher, timeout time.Duration) http.Handler {
	return NewHandler(slog.New(slog.NewTextHandler(io.Discard, nil)), pub, timeout)
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
			want: profile.Event{PatientID: "1", FirstName: "John", LastName: "Doe", IsPregnant: false, Sex: "Female"},
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
			name: "client UpdatedAt and EventId are ignored, null means absent",
			body: `{"PatientId":"4","FirstName":null,"UpdatedAt":"2000-01-01T00:00:00Z","EventId":"mine"}`,
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
		wantFields []string
	}{
		{"malformed JSON", `{"PatientId":"1",`, http.StatusBadRequest, []string{"body"}},
		{"empty body", ``, http.StatusBadRequest, []string{"body"}},
		{"array body", `[{"PatientId":"1"}]`, http.StatusBadRequest, []string{"body"}},
		{"null body", `null`, http.StatusBadRequest, []string{"body"}},
		{"two values", `{"PatientId":"1"}{"PatientId":"2"}`, http.StatusBadRequest, []string{"body"}},
		{"missing PatientId", `{"FirstName":"John"}`, http.StatusBadRequest, []string{"PatientId"}},
		{"empty PatientId", `{"PatientId":""}`, http.StatusBadRequest, []string{"PatientId"}},
		{"blank PatientId", `{"PatientId":"   "}`, http.StatusBadRequest, []string{"PatientId"}},
		{"numeric PatientId", `{"PatientId":1}`, http.StatusBadRequest, []string{"PatientId"}},
		{"huge PatientId", `{"PatientId":"` + strings.Repeat("x", maxPatientIDSize+1) + `"}`, http.StatusBadRequest, []string{"PatientId"}},
		{"IsPregnant not a boolean word", `{"PatientId":"1","IsPregnant":"maybe"}`, http.StatusBadRequest, []string{"IsPregnant"}},
		{"IsPregnant a number", `{"PatientId":"1","IsPregnant":1}`, http.StatusBadRequest, []string{"IsPregnant"}},
		{"FirstName a number", `{"PatientId":"1","FirstName":42}`, http.StatusBadRequest, []string{"FirstName"}},
		{"LastName an object", `{"PatientId":"1","LastName":{}}`, http.StatusBadRequest, []string{"LastName"}},
		{"Sex an array", `{"PatientId":"1","Sex":["F"]}`, http.StatusBadRequest, []string{"Sex"}},
		{"every bad field at once", `{"PatientId":7,"FirstName":true,"IsPregnant":"yes","Sex":1}`, http.StatusBadRequest, []string{"PatientId", "FirstName", "IsPregnant", "Sex"}},
		// The contract's names are exact, and a name given twice is ambiguous: each is refused,
		// naming the field, rather than read one way here and another downstream.
		{"PatientId twice", `{"PatientId":"1","FirstName":"a","PatientId":"2"}`, http.StatusBadRequest, []string{"PatientId"}},
		{"PatientId twice, once escaped", `{"PatientId":"1","Patient\u0049d":"2"}`, http.StatusBadRequest, []string{"PatientId"}},
		{"an unknown name twice", `{"PatientId":"1","x":1,"x":2}`, http.StatusBadRequest, []string{"x"}},
		{"lower-case names", `{"patientid":"1","firstname":"John"}`, http.StatusBadRequest, []string{"patientid"}},
		{"a case variant beside the exact name", `{"PatientId":"1","PATIENTID":"2"}`, http.StatusBadRequest, []string{"PATIENTID"}},
		{"a case variant of a stamped field", `{"PatientId":"1","updatedAt":"9999-12-31T23:59:59Z"}`, http.StatusBadRequest, []string{"updatedAt"}},
		{"unclosed object", `{"PatientId":"1"`, http.StatusBadRequest, []string{"body"}},
		{"string body", `"PatientId"`, http.StatusBadRequest, []string{"body"}},
		{"body too large", `{"PatientId":"1","FirstName":"` + strings.Repeat("x", maxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge, []string{"body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &fakePublisher{}
			rec := post(t, newTestHandler(pub, time.Second), tt.body)

			assert.Equal(t, tt.wantStatus, rec.Code)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var got problem
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), rec.Body.String())
			assert.Len(t, got.Fields, len(tt.wantFields), "fields: %v", got.Fields)
			for _, f := range tt.wantFields {
				assert.NotEmpty(t, got.Fields[f], "no problem reported for %s in %v", f, got.Fields)
			}
			assert.Empty(t, pub.events, "an invalid request was published")
		})
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

			assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
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

// The handler's own cost per request, without the broker: decode, validate, stamp, encode.
func BenchmarkPostProfile(b *testing.B) {
	h := newTestHandler(&fakePublisher{}, time.Second)
	body := `{"PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":"False","Sex":"Female"}`
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/patientprofile", strings.NewReader(body)))
		if rec.Code != http.StatusCreated {
			b.Fatalf("got %d", rec.Code)
		}
	}
}
