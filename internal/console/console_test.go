package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/auth"
	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

const (
	topic = "events"
	dlq   = "events.dlq"
	token = "a-console-token-0123"
)

type fixture struct {
	c         *Console
	h         http.Handler
	kafka     *fakeKafka
	table     fakeTable
	replays   *fakePublisher
	logs      *logtest.Buffer
	producer  *httptest.Server
	published atomic.Int64
}

func newFixture(t *testing.T, tokens ...string) *fixture {
	t.Helper()
	f := &fixture{kafka: newFakeKafka(6, topic, dlq), table: fakeTable{rows: map[string]profile.Event{}},
		replays: &fakePublisher{}, logs: logtest.New(t)}
	f.producer = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		f.published.Add(1)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"EventId":"e1","PatientId":"1","UpdatedAt":"2026-01-02T05:00:00Z"}`)
	}))
	t.Cleanup(f.producer.Close)
	f.c = New(slog.New(slog.NewJSONHandler(f.logs, nil)), Config{Topic: topic, DLQTopic: dlq, Group: "g",
		ProducerURL: f.producer.URL, ConsumerURL: f.producer.URL, Tokens: tokens, Refresh: time.Hour,
		TimelineMessages: 100}, Deps{Kafka: f.kafka, Table: f.table, Replay: f.replays})
	f.h = f.c.Handler()
	return f
}

// get asks for path as a browser on loopback would.
func (f *fixture) get(t *testing.T, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, http.NoBody)
	req.Host = "localhost:8080"
	req.Header.Set("Accept", "text/html")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// post submits a form as the console's own page would, plus the headers given.
func (f *fixture) post(t *testing.T, path string, form url.Values, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Host = "localhost:8080"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func event(id, eventID string, at time.Time, first string) profile.Event {
	return profile.Event{PatientID: id, EventID: eventID, UpdatedAt: at, FirstName: first}
}

func TestShow(t *testing.T) {
	tests := []struct {
		name     string
		value    []byte
		wantKind string
		want     string
		wantCut  bool
	}{
		{"JSON is pretty-printed", []byte(`{"a":1}`), "json", "{\n  \"a\": 1\n}", false},
		{"text that is not JSON", []byte("plain <b>"), "text", "plain <b>", false},
		{"not UTF-8 is hex", []byte{0xff, 0xfe}, "hex", "00000000  ff fe", false},
		{"a Kafka tombstone", nil, "tombstone", "", false},
		{"empty", []byte{}, "empty", "", false},
		{"over 64 KiB is cut", []byte(strings.Repeat("é", 40<<10)), "text", "éé", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := show(tt.value)
			assert.Equal(t, tt.wantKind, got.Kind)
			assert.True(t, strings.HasPrefix(got.Text, tt.want), "got %.40q, want it to start with %q", got.Text, tt.want)
			assert.Equal(t, tt.wantCut, got.Cut)
			assert.Equal(t, len(tt.value), got.Size)
			assert.LessOrEqual(t, len(got.Text), maxShown)
		})
	}
}

func TestAccess(t *testing.T) {
	tests := []struct {
		name       string
		tokens     []string
		header     []string
		host       string
		wantStatus int
	}{
		{name: "loopback, no token needed", wantStatus: http.StatusOK},
		{name: "loopback by address", host: "127.0.0.1:8080", wantStatus: http.StatusOK},
		{name: "another host name (DNS rebinding)", host: "evil.example:8080", wantStatus: http.StatusForbidden},
		{name: "a token needed, none sent", tokens: []string{token}, wantStatus: http.StatusUnauthorized},
		{name: "the bearer token", tokens: []string{token}, header: []string{"Authorization", "Bearer " + token},
			wantStatus: http.StatusOK},
		{name: "the cookie", tokens: []string{token}, header: []string{"Cookie", tokenCookie + "=" + token},
			wantStatus: http.StatusOK},
		{name: "a wrong token", tokens: []string{token}, header: []string{"Authorization", "Bearer wrong-token-000000"},
			wantStatus: http.StatusUnauthorized},
		{name: "with a token, any host", tokens: []string{token}, host: "console.internal",
			header: []string{"Authorization", "Bearer " + token}, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.tokens...)
			req := httptest.NewRequest(http.MethodGet, "/table", http.NoBody)
			req.Host = "localhost:8080"
			if tt.host != "" {
				req.Host = tt.host
			}
			req.Header.Set("Accept", "text/html")
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			assert.Equal(t, tt.wantStatus, rec.Code)
			h := rec.Header()
			csp := h.Get("Content-Security-Policy")
			assert.Contains(t, csp, "script-src 'self'")
			assert.NotContains(t, csp, "unsafe-inline")
			assert.Equal(t, "DENY", h.Get("X-Frame-Options"))
			assert.Equal(t, "no-store", h.Get("Cache-Control"))
			if tt.wantStatus == http.StatusUnauthorized {
				assert.Contains(t, rec.Body.String(), `name="token"`, "the login form")
			}
		})
	}
}

func TestLoginSetsAStrictCookie(t *testing.T) {
	f := newFixture(t, token)
	rec := f.post(t, "/login", url.Values{"token": {token}, "next": {"/table"}})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "/table", rec.Header().Get("Location"))
	cookie := rec.Header().Get("Set-Cookie")
	assert.Contains(t, cookie, "HttpOnly")
	assert.Contains(t, cookie, "SameSite=Strict")

	rec = f.post(t, "/login", url.Values{"token": {"not-the-token-00000"}})
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	rec = f.post(t, "/login", url.Values{"token": {token}, "next": {"//evil.example"}})
	assert.Equal(t, "/", rec.Header().Get("Location"), "never a redirect to another site")
}

func TestWritesAreRefusedFromOtherSites(t *testing.T) {
	tests := []struct {
		name      string
		csrf      bool
		header    []string
		wantCode  int
		published int64
	}{
		{name: "from the console's own page", csrf: true, header: []string{"Sec-Fetch-Site", "same-origin",
			"Origin", "http://localhost:8080"}, wantCode: http.StatusOK, published: 1},
		{name: "without the form's token", header: []string{"Sec-Fetch-Site", "same-origin"},
			wantCode: http.StatusForbidden},
		{name: "from another site, token and all", csrf: true, header: []string{"Sec-Fetch-Site", "cross-site"},
			wantCode: http.StatusForbidden},
		{name: "from another origin on the same host", csrf: true, header: []string{"Origin", "http://localhost:9999"},
			wantCode: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			form := url.Values{"method": {"POST"}, "PatientId": {"1"}, "FirstName": {"Jo"}, "IsPregnant": {"false"},
				"Sex": {"female"}}
			if tt.csrf {
				form.Set("csrf", f.c.access.csrf(loopbackWho))
			}
			rec := f.post(t, "/try", form, tt.header...)
			assert.Equal(t, tt.wantCode, rec.Code)
			assert.Equal(t, tt.published, f.published.Load(), "requests that reached the producer")
			rec = f.post(t, "/deadletters/replay", url.Values{"dl": {"0:0"}}, tt.header...)
			assert.Equal(t, http.StatusForbidden, rec.Code, "replay without a token is refused too")
		})
	}
}

// Any number of open pages share one poll per interval.
func TestHubPollsOncePerIntervalForEveryWatcher(t *testing.T) {
	var polls atomic.Int64
	h := NewHub(func(context.Context) *Snapshot {
		polls.Add(1)
		return &Snapshot{At: time.Now()}
	}, 20*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { h.Run(ctx) })

	var received atomic.Int64
	for range 50 {
		ch, stop := h.Watch()
		t.Cleanup(stop)
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-ch:
					received.Add(1)
				}
			}
		})
	}
	time.Sleep(210 * time.Millisecond)
	cancel()
	wg.Wait()
	assert.LessOrEqual(t, polls.Load(), int64(11), "one poll per interval, not one per watcher")
	assert.GreaterOrEqual(t, polls.Load(), int64(3))
	assert.GreaterOrEqual(t, received.Load(), 50*polls.Load()/2, "every watcher gets the snapshots")

	// Pages loaded at once share one poll too.
	before := polls.Load()
	h2 := NewHub(func(context.Context) *Snapshot {
		polls.Add(1)
		time.Sleep(20 * time.Millisecond)
		return &Snapshot{At: time.Now()}
	}, time.Hour)
	var pages sync.WaitGroup
	for range 100 {
		pages.Go(func() { assert.NotNil(t, h2.Current(context.Background())) })
	}
	pages.Wait()
	assert.Equal(t, before+1, polls.Load(), "100 pages at once: one poll")
}

func TestOverviewReadsNoMessage(t *testing.T) {
	f := newFixture(t)
	for i := range 500 {
		f.kafka.add(topic, message.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(`{}`)})
	}
	rec := f.get(t, "/")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "500 messages")
	assert.Zero(t, f.kafka.read.Load(), "the overview reads offsets, never messages")
	assert.Contains(t, rec.Header().Get("Server-Timing"), "poll;dur=")
}

func TestTimelineJudgesEachEventByTheOrderingRule(t *testing.T) {
	f := newFixture(t)
	at := time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)
	value := func(e profile.Event) []byte { return e.AppendJSON(nil) }
	row := event("p1", "b", at, "Row")
	older := f.kafka.add(topic, message.Message{Key: []byte("p1"), Value: value(event("p1", "a", at, "Older"))})
	f.kafka.add(topic, message.Message{Key: []byte("p1"), Value: value(row)})
	bad := f.kafka.add(topic, message.Message{Key: []byte("p1"), Value: []byte(`{"PatientId":"p1"}`)})
	f.kafka.add(dlq, deadletter.New(bad, fmt.Errorf("decode event: UpdatedAt: missing")))
	f.kafka.add(topic, message.Message{Key: []byte("p1")}) // a Kafka tombstone
	f.kafka.add(topic, message.Message{Key: []byte("p1"), Value: value(event("p1", "c", at.Add(time.Second), "New"))})
	f.kafka.add(topic, message.Message{Key: []byte("other"), Value: value(event("other", "x", at, "Other"))})
	f.table.rows["p1"] = row
	f.kafka.group = broker.Group{Partitions: []broker.GroupPartition{
		{Partition: broker.Partition{ID: older.Partition}, Committed: older.Offset + 4},
	}}

	rec := f.get(t, "/patients/p1")
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	for _, want := range []string{
		"Applied: this event is the row",
		"Older than the row by the ordering rule",
		"Dead-lettered: decode event: UpdatedAt: missing",
		"A null value: the consumer commits it",
		"Newer than the row, not consumed yet",
		"2026-01-02T05:00:00.000000000Z#b", // the row's OrderKey
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, "Other", "another patient's event on the partition is not shown")
	assert.Regexp(t, `Read the newest \d+ of its messages`, body, "the page says how many it read")
}

func TestPagesSayWhatIsWrong(t *testing.T) {
	f := newFixture(t)
	for i := range 120 {
		f.kafka.add(topic, message.Message{Key: []byte("k"), Value: []byte(fmt.Sprint(i))})
	}
	p := broker.PartitionOf([]byte("k"), 6)
	tests := []struct {
		path       string
		wantStatus int
		want       string
	}{
		{"/topics/nope", http.StatusNotFound, "shows the topics"},
		{"/topics/events/partitions/9", http.StatusNotFound, "partitions 0 to 5"},
		{fmt.Sprintf("/topics/events/partitions/%d/offsets/500", p), http.StatusNotFound, "holds offsets 0 to 119"},
		{fmt.Sprintf("/topics/events/partitions/%d?offset=-4", p), http.StatusOK, "is before the partition"},
		{fmt.Sprintf("/topics/events/partitions/%d?offset=9999", p), http.StatusOK, "is past the partition"},
		{fmt.Sprintf("/topics/events/partitions/%d?offset=x", p), http.StatusBadRequest, "not a number"},
		{"/patients/a_b", http.StatusBadRequest, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := f.get(t, tt.path)
			assert.Equal(t, tt.wantStatus, rec.Code)
			assert.Contains(t, rec.Body.String(), tt.want)
		})
	}
	before := f.kafka.read.Load()
	f.get(t, fmt.Sprintf("/topics/events/partitions/%d", p))
	assert.Equal(t, int64(pageSize), f.kafka.read.Load()-before, "a page reads only the page")
}

func TestMarkupInAValueIsText(t *testing.T) {
	f := newFixture(t)
	f.kafka.add(topic, message.Message{Key: []byte("x"), Value: []byte(`{"FirstName":"<img src=x onerror=alert(1)>"}`),
		Headers: []message.Header{{Key: "h", Value: []byte("<script>alert(1)</script>")}}})
	rec := f.get(t, "/find?key=x")
	require.Equal(t, http.StatusSeeOther, rec.Code)
	rec = f.get(t, rec.Header().Get("Location"))
	body := rec.Body.String()
	assert.Contains(t, body, "&lt;img src=x onerror=alert(1)&gt;")
	assert.NotContains(t, body, "<img")
	assert.NotContains(t, body, "<script>alert")
}

// Every view of patient data leaves one audit line naming who, what and which view, and no
// profile value.
func TestViewsOfPatientDataAreAudited(t *testing.T) {
	f := newFixture(t, token)
	at := time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)
	e := event("p1", "a", at, "Secretname")
	m := f.kafka.add(topic, message.Message{Key: []byte("p1"), Value: e.AppendJSON(nil)})
	f.table.rows["p1"] = e
	paths := map[string]string{
		"/patients/p1": "patient",
		fmt.Sprintf("/topics/events/partitions/%d", m.Partition):           "messages",
		fmt.Sprintf("/topics/events/partitions/%d/offsets/0", m.Partition): "message",
		"/table":       "table",
		"/deadletters": "deadletters",
	}
	for path, view := range paths {
		t.Run(view, func(t *testing.T) {
			before := len(f.logs.Lines())
			rec := f.get(t, path, "Authorization", "Bearer "+token)
			require.Equal(t, http.StatusOK, rec.Code)
			lines := f.logs.Lines()[before:]
			require.Len(t, lines, 1)
			var line map[string]any
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &line))
			assert.Equal(t, "audit", line["msg"])
			assert.Equal(t, auth.Fingerprint(token), line["who"])
			assert.Equal(t, view, line["view"])
			assert.NotContains(t, lines[0], "Secretname")
		})
	}
}

func TestReplayIsADryRunUntilConfirmed(t *testing.T) {
	f := newFixture(t)
	src := f.kafka.add(topic, message.Message{Key: []byte("p1"), Value: []byte(`{"PatientId":"p1"}`)})
	d := f.kafka.add(dlq, deadletter.New(src, fmt.Errorf("decode event: UpdatedAt: missing")))
	form := url.Values{"dl": {fmt.Sprintf("%d:%d", d.Partition, d.Offset)}, "csrf": {f.c.access.csrf(loopbackWho)}}

	rec := f.post(t, "/deadletters/replay", form)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "would-replay")
	assert.Contains(t, rec.Body.String(), `name="confirm" value="yes"`)
	assert.Empty(t, f.replays.sent, "a dry run publishes nothing")

	form.Set("confirm", "yes")
	rec = f.post(t, "/deadletters/replay", form)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Len(t, f.replays.sent, 1)
	got, ok := f.replays.sent[0].Header(deadletter.HeaderReplayedFrom)
	assert.True(t, ok)
	assert.Equal(t, d.At().String(), string(got))

	rec = f.post(t, "/deadletters/replay", url.Values{"csrf": {f.c.access.csrf(loopbackWho)}})
	assert.Equal(t, http.StatusBadRequest, rec.Code, "nothing chosen")
}

func TestTablePages(t *testing.T) {
	f := newFixture(t)
	at := time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)
	for i := range 60 {
		id := fmt.Sprintf("p%02d", i)
		f.table.rows[id] = event(id, "a", at, "N")
	}
	f.table.rows["gone"] = profile.Event{PatientID: "gone", Deleted: true, UpdatedAt: at}
	rec := f.get(t, "/table")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "/table?after=p48", "the next page starts after the last row shown")
	rec = f.get(t, "/table?find=gone")
	assert.Contains(t, rec.Body.String(), "tombstone")
}
