package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ankitamadan/patient-profile/internal/auth"
	"github.com/ankitamadan/patient-profile/internal/idempotency"
	"github.com/ankitamadan/patient-profile/internal/ops"
	"github.com/ankitamadan/patient-profile/internal/problem"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// The Idempotency-Key of POST and DELETE (IETF draft-ietf-httpapi-idempotency-key-header): a
// retry with the key publishes the first request's event, never a newer one, so a retried write
// can never overwrite an update made after it.

const (
	keyHeader = "Idempotency-Key"
	// replayedHeader marks an answer sent again from the key table (Stripe's name for it).
	replayedHeader = "Idempotent-Replayed"
	maxKeyLen      = 255
)

// keyStore keeps the keys in a table every replica shares (package idempotency).
type keyStore interface {
	Begin(ctx context.Context, key, fingerprint, eventID string, stamp time.Time) (idempotency.Claim, error)
	Complete(ctx context.Context, c idempotency.Claim, status int, body []byte) error
	Release(ctx context.Context, c idempotency.Claim) error
}

var _ keyStore = (*idempotency.Store)(nil)

// keys is how the write routes use Idempotency-Keys. A nil *keys means they are off.
type keys struct {
	store    keyStore
	timeout  time.Duration
	required bool
	logger   *slog.Logger
	requests *prometheus.CounterVec
}

func newKeys(logger *slog.Logger, cfg Config, reg prometheus.Registerer) *keys {
	if cfg.Keys == nil {
		return nil
	}
	k := &keys{store: cfg.Keys, timeout: cfg.KeyTimeout, required: cfg.KeyRequired, logger: logger,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patient_profile_idempotency_requests_total",
			Help: "Requests with an Idempotency-Key, by what the key table said: new; expired (forgotten, so new " +
				"again); taken_over (the event of a request that failed or was abandoned, published again); " +
				"replayed (the first answer sent again, nothing published); conflict (409, in progress); " +
				"mismatched (422, the key was used for another request); unavailable (503, the key table " +
				"failed, nothing published).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(k.requests)
	return k
}

// outcomeLabels are the metric's outcomes.
var outcomeLabels = map[idempotency.Outcome]string{
	idempotency.First: "new", idempotency.Expired: "expired", idempotency.TakenOver: "taken_over",
	idempotency.Done: "replayed", idempotency.InProgress: "conflict", idempotency.Mismatched: "mismatched",
}

// of returns the request's Idempotency-Key, "" if it has none, or why it is refused.
func (k *keys) of(r *http.Request) (string, error) {
	values := r.Header[keyHeader] // the server canonicalises the names it reads
	switch {
	case len(values) == 0 && k != nil && k.required:
		return "", problem.Errorf(problem.Invalid,
			"send an Idempotency-Key header: this producer requires one on POST and DELETE, so that a retry is safe")
	case len(values) == 0:
		return "", nil
	case len(values) > 1:
		return "", problem.Errorf(problem.Invalid, "send one Idempotency-Key header, not %d", len(values))
	case k == nil:
		// Ignoring it would let the client believe its retries are safe.
		return "", problem.Errorf(problem.Invalid,
			"this producer keeps no Idempotency-Keys (its IDEMPOTENCY_TABLE is empty); send the request without one")
	case !validKey(values[0]):
		return "", problem.Errorf(problem.Invalid,
			"the Idempotency-Key header must be 1 to %d printable ASCII characters", maxKeyLen)
	}
	return values[0], nil
}

func validKey(key string) bool {
	if key == "" || len(key) > maxKeyLen {
		return false
	}
	for i := range len(key) {
		if key[i] < ' ' || key[i] > '~' {
			return false
		}
	}
	return true
}

// fingerprint identifies a request for its key: its method, path and body. Its caller is in the
// key itself. A retry sends the same request; the same key with another one is refused (422).
//
// The body holds patient data, and a plain hash of it would let a reader of the key table confirm
// a guessed name; so with authentication on the hash is keyed (HMAC) with the caller's secret,
// which the table does not hold.
func fingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	if secret := auth.CallerOf(r.Context()).Secret; secret != nil {
		h = hmac.New(sha256.New, secret)
	}
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// publishOnce is publish with an Idempotency-Key: the key table decides the stamp, and whether
// to publish at all. The first request with the key publishes its own event and records its
// answer; a retry gets that answer, or, if the first never got one, publishes the first event
// again (its EventId and stamp). A key that cannot be recorded publishes nothing.
func (k *keys) publishOnce(w http.ResponseWriter, r *http.Request, p *publishing, e *profile.Event, ans written,
	key, fp string) {
	ctx := r.Context()
	at, id := p.stamper.stamp()
	bctx, cancel := k.bound(ctx)
	// The caller's scope keeps one caller's keys, and answers, from every other caller.
	c, err := k.store.Begin(bctx, auth.CallerOf(ctx).ID+" "+key, fp, id, at)
	cancel()
	if err != nil {
		k.requests.WithLabelValues("unavailable").Inc()
		k.logger.LogAttrs(ctx, slog.LevelError, "idempotency key not recorded; nothing published",
			slog.String("request_id", ops.RequestID(ctx)), slog.String("patient_id", e.PatientID),
			slog.String("error", err.Error()))
		problem.Write(w, r, problem.Errorf(problem.KeyStoreUnavailable,
			"the Idempotency-Key could not be recorded within %s, so nothing was published; retry with the same key",
			k.timeout))
		return
	}
	k.requests.WithLabelValues(outcomeLabels[c.Outcome]).Inc()
	switch c.Outcome {
	case idempotency.Mismatched:
		problem.Write(w, r, problem.Errorf(problem.KeyReused, "this Idempotency-Key was used for another request "+
			"(another method, path or body); a new request needs a new key"))
		return
	case idempotency.InProgress:
		problem.Write(w, r, problem.Errorf(problem.KeyInProgress, "a request with this Idempotency-Key is still "+
			"being processed, here or on another replica; retry after Retry-After to get its answer"))
		return
	case idempotency.Done:
		w.Header()[replayedHeader] = []string{"true"}
		writeJSON(w, c.Status, c.Body)
		return
	}
	e.UpdatedAt, e.EventID = c.Stamp, c.EventID
	if !p.send(w, r, *e, "so retry with the same Idempotency-Key: the retry publishes this same event "+
		"(its EventId and stamp), never a newer one") {
		// A retry may take the key over at once rather than after the lease.
		k.settle(ctx, "release", e, func(ctx context.Context) error { return k.store.Release(ctx, c) })
		return
	}
	body := appendStamp(nil, *e, ans.stamp)
	k.settle(ctx, "complete", e, func(ctx context.Context) error { return k.store.Complete(ctx, c, ans.status, body) })
	writeJSON(w, ans.status, body)
}

// settle runs a last call on the key, for which the answer does not wait on the outcome: if it
// fails, a retry takes the key over once its lease lapses and publishes the same event again.
func (k *keys) settle(ctx context.Context, what string, e *profile.Event, call func(context.Context) error) {
	bctx, cancel := k.bound(ctx)
	defer cancel()
	err := call(bctx)
	if err == nil {
		return
	}
	level := slog.LevelWarn
	if errors.Is(err, idempotency.ErrLeaseLost) {
		level = slog.LevelInfo // a retry holds the key now, with the same event
	}
	k.logger.LogAttrs(ctx, level, "idempotency key not "+what+"d; a retry after its lease publishes the same event",
		slog.String("request_id", ops.RequestID(ctx)), slog.String("event_id", e.EventID),
		slog.String("patient_id", e.PatientID), slog.String("error", err.Error()))
}

// bound is a context for one call to the key table: its own timeout, and not the client's
// cancellation, so that a client that hangs up leaves no key half-recorded.
func (k *keys) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), k.timeout)
}
