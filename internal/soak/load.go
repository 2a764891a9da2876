package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// The producer under the network faults: the real binary, its broker link faulted with the
// consumers', and a steady load of updates to patients of its own (netPatient) that the check
// holds to the same promise as the stream's.

const (
	// netPatients is how many patients the producer's load updates, over and over.
	netPatients = 50
	// loadRate is the load's requests a second.
	loadRate = 40
	// publishTimeout is the producer's PUBLISH_TIMEOUT in the phase, and answerMargin what an
	// answer may take beyond it before the request counts as hung.
	// keyTimeout is the producer's IDEMPOTENCY_TIMEOUT: a keyed request makes up to two calls to
	// the key table besides its publish, so its answer is bounded by publishTimeout plus twice
	// keyTimeout.
	publishTimeout = 2 * time.Second
	keyTimeout     = time.Second
	answerMargin   = 3 * time.Second
	// retryFor is how long a client keeps retrying a request that got a 503, with its
	// Idempotency-Key, as the API tells it to.
	retryFor = 30 * time.Second
)

func netPatient(i int) string { return "net-" + strconv.Itoa(i) }

// ProducerResult is how the producer answered the load.
type ProducerResult struct {
	// Sent requests, and the answers to their first attempt: 201 (Acknowledged), 503
	// (Unavailable), any other, and none within PUBLISH_TIMEOUT plus twice IDEMPOTENCY_TIMEOUT
	// plus a margin (Hung).
	Sent, Acknowledged, Unavailable, Other, Hung int64
	// Lost counts acknowledged events not found on the topic at the end: a broken promise.
	Lost int64
	// Retried counts the requests that got a 503 and were sent again with their Idempotency-Key
	// until they got a 201 (RetriedAcknowledged) or retryFor passed.
	Retried, RetriedAcknowledged int64
	// RetriedNewer counts retries whose event was stamped after the first attempt's 503 came
	// back: a retry that could overwrite an update acknowledged in between, the lost update
	// Idempotency-Key exists to prevent.
	RetriedNewer int64
}

// OK reports that the producer kept its promises: no 201 lost, no request left hanging, no
// answer but 201 or 503, and no retry newer than its first attempt.
func (p ProducerResult) OK() bool {
	return p.Lost == 0 && p.Hung == 0 && p.Other == 0 && p.RetriedNewer == 0
}

func (p ProducerResult) String() string {
	return fmt.Sprintf("%d requests: %d acknowledged (%d lost), %d 503s, %d other answers, %d hung; "+
		"%d retried with their Idempotency-Key: %d acknowledged, %d stamped after their first 503",
		p.Sent, p.Acknowledged, p.Lost, p.Unavailable, p.Other, p.Hung,
		p.Retried, p.RetriedAcknowledged, p.RetriedNewer)
}

// acked is an event the producer acknowledged.
type acked struct {
	patient, eventID string
}

// load is the producer process and the requests sent to it.
type load struct {
	producer *devenv.Process
	cancel   context.CancelFunc
	done     chan struct{}

	unavailableCount atomic.Int64
	mu               sync.Mutex
	res              ProducerResult
	acks             []acked
}

func (l *load) unavailable() int64 { return l.unavailableCount.Load() }

// startLoad starts the producer with env added to the stack's, waits until it answers, and sends
// it loadRate updates a second until finish.
func (r *run) startLoad(ctx context.Context, env ...string) (*load, error) {
	port, err := devenv.FreePort()
	if err != nil {
		return nil, err
	}
	env = append([]string{"PUBLISH_TIMEOUT=" + publishTimeout.String(), "IDEMPOTENCY_TIMEOUT=" + keyTimeout.String(),
		"LOG_LEVEL=warn"}, env...)
	p, err := devenv.Start("producer", r.cfg.ProducerBin, r.stack.ProducerEnv(port, env...), r.cfg.Logs)
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := devenv.WaitHealthy(hctx, p, port); err != nil {
		p.Kill()
		return nil, err
	}
	ctx, stop := context.WithCancel(ctx)
	l := &load{producer: p, cancel: stop, done: make(chan struct{})}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/patientprofile"
	go l.run(ctx, url)
	return l, nil
}

func (l *load) run(ctx context.Context, url string) {
	defer close(l.done)
	client := &http.Client{Timeout: publishTimeout + 2*keyTimeout + answerMargin}
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / loadRate)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.send(ctx, client, url, netPatient(seq%netPatients), seq)
		}()
	}
}

// send posts one update with an Idempotency-Key and records the answer. After a 503 that says
// the broker did not acknowledge, it retries with the same key, as the API tells clients to.
func (l *load) send(ctx context.Context, client *http.Client, url, patient string, seq int) {
	body := fmt.Sprintf(`{"PatientId":%q,"FirstName":"N%d","LastName":"Load","IsPregnant":false,"Sex":"female"}`,
		patient, seq)
	key := "soak-" + strconv.Itoa(seq)
	// Not cancelled with the load: a request in flight when it ends still gets its answer counted.
	ctx = context.WithoutCancel(ctx)
	a := post(ctx, client, url, key, body)
	l.mu.Lock()
	l.res.Sent++
	switch {
	case a.err != nil:
		l.res.Hung++ // no answer within its bound plus the margin
	case a.status == http.StatusCreated && a.eventID != "":
		l.res.Acknowledged++
		l.acks = append(l.acks, acked{patient: patient, eventID: a.eventID})
	case a.status == http.StatusServiceUnavailable:
		l.res.Unavailable++
		l.unavailableCount.Add(1)
	default:
		l.res.Other++
	}
	l.mu.Unlock()
	// A 503 from the key table published nothing, so its retry is a new request; only a broker's
	// 503 leaves an event that may be on the topic, which the retry must repeat, not outdate.
	if a.status != http.StatusServiceUnavailable || a.keyStoreDown {
		return
	}
	firstAnswer := a.at
	l.mu.Lock()
	l.res.Retried++
	l.mu.Unlock()
	// Backing off, as a client should, so that the retries of a fault's 503s do not become a
	// storm once it heals.
	for attempt, deadline := 0, time.Now().Add(retryFor); time.Now().Before(deadline); attempt++ {
		time.Sleep(max(a.retryAfter, retryBackoff(attempt)))
		a = post(ctx, client, url, key, body)
		if a.status != http.StatusCreated || a.eventID == "" {
			continue // 503 or 409 (the first still in progress): retry later, with the key
		}
		l.mu.Lock()
		l.res.RetriedAcknowledged++
		l.acks = append(l.acks, acked{patient: patient, eventID: a.eventID})
		if a.stamp.After(firstAnswer) {
			l.res.RetriedNewer++
		}
		l.mu.Unlock()
		return
	}
}

// retryBackoff is capped exponential backoff with equal jitter: between half and all of
// min(2 s, 250 ms * 2^attempt).
func retryBackoff(attempt int) time.Duration {
	d := min(250*time.Millisecond<<min(attempt, 4), 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

// answer is what one POST got back.
type answer struct {
	status  int
	err     error
	at      time.Time // when the answer came back
	eventID string
	stamp   time.Time
	// keyStoreDown marks a 503 from the key table rather than the broker.
	keyStoreDown bool
	retryAfter   time.Duration
}

func post(ctx context.Context, client *http.Client, url, key, body string) answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return answer{err: err, at: time.Now()}
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, at: time.Now()}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		a.retryAfter = min(time.Duration(s)*time.Second, 2*time.Second)
	}
	switch resp.StatusCode {
	case http.StatusCreated:
		var created struct {
			EventID   string    `json:"EventId"`
			UpdatedAt time.Time `json:"UpdatedAt"`
		}
		if json.Unmarshal(raw, &created) == nil {
			a.eventID, a.stamp = created.EventID, created.UpdatedAt
		}
	case http.StatusServiceUnavailable:
		a.keyStoreDown = bytes.Contains(raw, []byte("key-store-unavailable"))
	}
	return a
}

// stop ends the load and the producer, whatever state they are in.
func (l *load) stop() {
	l.cancel()
	<-l.done
	l.producer.Kill()
}

// finish ends the load, stops the producer with SIGTERM (a clean stop is part of the promise)
// and returns how the producer answered.
func (l *load) finish() (ProducerResult, error) {
	l.cancel()
	<-l.done
	_ = l.producer.Signal(syscall.SIGTERM)
	err := l.producer.Wait(15 * time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		return l.res, fmt.Errorf("the producer did not stop cleanly on SIGTERM: %w", err)
	}
	return l.res, nil
}

// acknowledged is every event the producer acknowledged.
func (l *load) acknowledged() []acked {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]acked(nil), l.acks...)
}

// errNoEvent marks a topic read that found none of the producer's events.
var errNoEvent = errors.New("no event of the producer's patients on the topic")

// newestOnTopic returns, per patient of the producer's load, the newest event on the topic by
// the ordering rule, and the set of EventIds there: a 503'd request may have been published too,
// so the topic, not the answers, says what the row must end at.
func newestOnTopic(values [][]byte) (map[string]profile.Event, map[string]bool, error) {
	newest := map[string]profile.Event{}
	ids := map[string]bool{}
	for _, v := range values {
		e, err := profile.Decode(v)
		if err != nil {
			continue // the stream's poison
		}
		if len(e.PatientID) < 4 || e.PatientID[:4] != "net-" {
			continue
		}
		ids[e.EventID] = true
		if cur, ok := newest[e.PatientID]; !ok || profile.Compare(e, cur) > 0 {
			newest[e.PatientID] = e
		}
	}
	if len(newest) == 0 {
		return nil, nil, errNoEvent
	}
	return newest, ids, nil
}
