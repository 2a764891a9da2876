package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/idempotency"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// These tests run the state machine against a real DynamoDB API (dynalite): they check the
// conditional writes themselves, not a model of them.

const (
	testTTL   = time.Hour
	testLease = 10 * time.Second
)

func newClient(t *testing.T) *dynamodb.Client {
	t.Helper()
	d := devenvtest.Dynalite(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := store.NewClient(ctx, d.Endpoint(), "", 32)
	require.NoError(t, err)
	require.ErrorIs(t, idempotency.CreateTable(ctx, client, "keys"), store.ErrNoTTL, "dynalite has no TTL; the table works")
	require.ErrorIs(t, idempotency.CreateTable(ctx, client, "keys"), store.ErrNoTTL, "a second time leaves it as it is")
	return client
}

// clock is a settable time for the store, shared by the model.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// modelRecord is what the model says a key's item holds.
type modelRecord struct {
	fingerprint, owner, eventID string
	done                        bool
	leaseUntil, expiresAt       int64
	stamp                       time.Time
	status                      int
	body                        string
}

// modelClaim is what the model says Begin returns: the claim, and the record it refers to and
// its holder, if it holds the lease.
type modelClaim struct {
	idempotency.Claim
	key, owner string
}

// model is the state machine of the package comment, in memory: what the store must do.
type model struct {
	records map[string]*modelRecord
}

func (m *model) begin(now time.Time, key, fp, owner, eventID string, stamp time.Time) modelClaim {
	r, ok := m.records[key]
	switch {
	case !ok || r.expiresAt <= now.Unix():
		outcome := idempotency.First
		if ok {
			outcome = idempotency.Expired
		}
		m.records[key] = &modelRecord{fingerprint: fp, owner: owner, eventID: eventID, stamp: stamp,
			leaseUntil: now.Add(testLease).UnixMilli(), expiresAt: now.Add(testTTL).Unix()}
		return modelClaim{idempotency.Claim{Outcome: outcome, EventID: eventID, Stamp: stamp}, key, owner}
	case r.fingerprint != fp:
		return modelClaim{Claim: idempotency.Claim{Outcome: idempotency.Mismatched}}
	case r.done:
		return modelClaim{idempotency.Claim{Outcome: idempotency.Done, EventID: r.eventID, Stamp: r.stamp,
			Status: r.status, Body: []byte(r.body)}, key, ""}
	case r.leaseUntil > now.UnixMilli():
		return modelClaim{idempotency.Claim{Outcome: idempotency.InProgress, EventID: r.eventID, Stamp: r.stamp}, key, ""}
	}
	r.owner, r.leaseUntil = owner, now.Add(testLease).UnixMilli()
	return modelClaim{idempotency.Claim{Outcome: idempotency.TakenOver, EventID: r.eventID, Stamp: r.stamp}, key, owner}
}

// holder returns c's record if c still holds it.
func (m *model) holder(c idempotency.Claim) (*modelRecord, error) {
	key, owner := c.Holder()
	r, ok := m.records[key]
	if !ok || r.owner != owner || r.done {
		return nil, idempotency.ErrLeaseLost
	}
	return r, nil
}

func (m *model) complete(c idempotency.Claim, status int, body string) error {
	r, err := m.holder(c)
	if err == nil {
		r.done, r.status, r.body = true, status, body
	}
	return err
}

func (m *model) release(c idempotency.Claim) error {
	r, err := m.holder(c)
	if err == nil {
		r.leaseUntil = 0
	}
	return err
}

// The property: any sequence of requests, completions, releases and clock moves, over a few keys
// and fingerprints, gets from the real conditional writes exactly what the model says, step by
// step. The clock moves by amounts around the lease and the TTL, so that every transition of the
// state machine is taken many times, takeovers of released, lapsed and completed claims and
// stale holders included.
func TestStateMachineAgainstTheModel(t *testing.T) {
	client := newClient(t)
	ctx := context.Background()
	seen := map[idempotency.Outcome]int{}
	answers := map[string]int{}
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 16))
			clk := &clock{t: time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)}
			s := idempotency.New(client, "keys", testTTL, testLease)
			owners := 0
			idempotency.SetClock(s, clk.now, func() string { owners++; return "owner-" + strconv.Itoa(owners) })
			m := &model{records: map[string]*modelRecord{}}
			keys := []string{fmt.Sprintf("seed%d/a", seed), fmt.Sprintf("seed%d/b", seed)}
			var held []idempotency.Claim // every claim that held a lease, stale ones too
			for step := range 400 {
				where := fmt.Sprintf("step %d", step)
				switch op := rng.IntN(10); {
				case op < 4:
					key, fp := keys[rng.IntN(len(keys))], []string{"fp-1", "fp-2"}[rng.IntN(4)/3]
					stamp := clk.now().Add(time.Duration(step) * time.Nanosecond)
					eventID := "event-" + strconv.Itoa(step)
					want := m.begin(clk.now(), key, fp, "owner-"+strconv.Itoa(owners+1), eventID, stamp)
					got, err := s.Begin(ctx, key, fp, eventID, stamp)
					require.NoError(t, err, where)
					requireSameClaim(t, want, got, where)
					seen[got.Outcome]++
					if got.Holds() {
						held = append(held, got)
					}
				case op < 6 && len(held) > 0:
					c := pick(rng, held)
					body := fmt.Sprintf(`{"EventId":%q,"step":%d}`, c.EventID, step)
					want := m.complete(c, 201, body)
					got := s.Complete(ctx, c, 201, []byte(body))
					require.Equal(t, want, got, where)
					answers[fmt.Sprint("complete ", got)]++
				case op < 7 && len(held) > 0:
					c := pick(rng, held)
					want, got := m.release(c), s.Release(ctx, c)
					require.Equal(t, want, got, where)
					answers[fmt.Sprint("release ", got)]++
				default:
					moves := []time.Duration{time.Millisecond, time.Millisecond, testLease / 2, testLease, testLease, testTTL}
					clk.advance(moves[rng.IntN(len(moves))])
				}
			}
		})
	}
	// Every outcome and both answers of Complete and Release came up, so the property covered the
	// whole machine.
	t.Logf("outcomes %v, answers %v", seen, answers)
	for o := range idempotency.Outcomes {
		assert.Positive(t, seen[idempotency.Outcome(o)], "outcome %s never came up", idempotency.Outcome(o))
	}
	for _, k := range []string{"complete <nil>", "complete " + idempotency.ErrLeaseLost.Error(), "release <nil>",
		"release " + idempotency.ErrLeaseLost.Error()} {
		assert.Positive(t, answers[k], "%s never came up", k)
	}
}

// pick is mostly the latest claim, which likely still holds its lease, and sometimes an older
// one, which likely lost it.
func pick(rng *rand.Rand, held []idempotency.Claim) idempotency.Claim {
	if rng.IntN(3) > 0 {
		return held[len(held)-1]
	}
	return held[rng.IntN(len(held))]
}

func requireSameClaim(t *testing.T, want modelClaim, got idempotency.Claim, where string) {
	t.Helper()
	require.Equal(t, want.Outcome, got.Outcome, where)
	require.Equal(t, want.EventID, got.EventID, where)
	require.True(t, want.Stamp.Equal(got.Stamp), "%s: stamp %s, want %s", where, got.Stamp, want.Stamp)
	require.Equal(t, want.Status, got.Status, where)
	require.Equal(t, string(want.Body), string(got.Body), where)
	key, owner := got.Holder()
	require.Equal(t, want.key, key, where)
	require.Equal(t, want.owner, owner, where)
}

// Many requests with one key at once, as concurrent retries on several producers are: one holds
// the lease, and every other is told the first one's event, whether the key is new or lapsed.
func TestConcurrentBeginsOneWinner(t *testing.T) {
	client := newClient(t)
	ctx := context.Background()
	s := idempotency.New(client, "keys", testTTL, testLease)
	const n = 20
	race := func(key string) []idempotency.Claim {
		claims := make([]idempotency.Claim, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				c, err := s.Begin(ctx, key, "fp", "event-"+strconv.Itoa(i), time.Unix(0, int64(i)))
				assert.NoError(t, err)
				claims[i] = c
			})
		}
		close(start)
		wg.Wait()
		return claims
	}
	winner := func(t *testing.T, claims []idempotency.Claim, want idempotency.Outcome) idempotency.Claim {
		t.Helper()
		var won []idempotency.Claim
		for _, c := range claims {
			if c.Holds() {
				won = append(won, c)
			} else {
				assert.Equal(t, idempotency.InProgress, c.Outcome)
			}
		}
		require.Len(t, won, 1, "exactly one holds the lease")
		assert.Equal(t, want, won[0].Outcome)
		for _, c := range claims {
			assert.Equal(t, won[0].EventID, c.EventID, "every request is told the first one's event")
			assert.True(t, won[0].Stamp.Equal(c.Stamp))
		}
		return won[0]
	}

	first := winner(t, race("k"), idempotency.First)
	require.NoError(t, s.Release(ctx, first))
	taken := winner(t, race("k"), idempotency.TakenOver)
	assert.Equal(t, first.EventID, taken.EventID, "a takeover publishes the first event")
	assert.ErrorIs(t, s.Complete(ctx, first, 201, []byte("late")), idempotency.ErrLeaseLost, "the first one lost its lease")
	require.NoError(t, s.Complete(ctx, taken, 201, []byte(`{"EventId":"x"}`)))
	for _, c := range race("k") {
		assert.Equal(t, idempotency.Done, c.Outcome)
		assert.Equal(t, `{"EventId":"x"}`, string(c.Body))
		assert.Equal(t, 201, c.Status)
	}
}

func TestPing(t *testing.T) {
	client := newClient(t)
	ctx := context.Background()
	require.ErrorIs(t, store.CreateTable(ctx, client, "profiles"), store.ErrNoTTL)
	tests := []struct {
		table, want string
	}{
		{"keys", ""},
		{"nosuchtable", "dynamodb table nosuchtable: not found"},
		{"profiles", "dynamodb table profiles: table key is not IdempotencyKey (S) alone"},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			err := idempotency.New(client, tt.table, testTTL, testLease).Ping(ctx)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.want)
		})
	}
}

// A key store that cannot be reached is an error, never an outcome: the caller must not publish.
func TestBeginFailsWhenTheTableIsGone(t *testing.T) {
	client := newClient(t)
	_, err := idempotency.New(client, "nosuchtable", testTTL, testLease).Begin(context.Background(), "k", "fp", "e", time.Now())
	require.Error(t, err)
	assert.False(t, errors.Is(err, idempotency.ErrLeaseLost))
	assert.Contains(t, err.Error(), "claim idempotency key")
}
