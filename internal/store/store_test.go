package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// The store is where the ordering rule is enforced, so these tests run it against a real
// DynamoDB API (dynalite): they check the ConditionExpression itself, not a model of it.

func newStore(t *testing.T) *store.Table {
	t.Helper()
	d := devenvtest.Dynalite(t)
	return store.New(devenvtest.Table(t, d, "patient-profile"), "patient-profile", 0)
}

func ev(t *testing.T, patient, updatedAt, eventID string) profile.Event {
	t.Helper()
	ts, err := profile.ParseTime(updatedAt)
	require.NoError(t, err)
	return profile.Event{PatientID: patient, UpdatedAt: ts, EventID: eventID, FirstName: "v" + updatedAt + "/" + eventID}
}

func TestPutFollowsTheOrderingRule(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()

	type put struct {
		updatedAt, eventID string
		wantApplied        bool
	}
	tests := []struct {
		name string
		puts []put
	}{
		{"newer then older: the older is dropped", []put{
			{"2026-01-02T05:00:00.5Z", "e2", true}, {"2026-01-02T05:00:00Z", "e1", false}}},
		{"older then newer: both apply", []put{
			{"2026-01-02T05:00:00Z", "e1", true}, {"2026-01-02T05:00:00.5Z", "e2", true}}},
		{"an exact duplicate is a no-op", []put{
			{"2026-01-02T05:00:00Z", "e1", true}, {"2026-01-02T05:00:00Z", "e1", false}}},
		{"the same instant in another offset is a duplicate", []put{
			{"2026-01-02T05:00:00.25Z", "e1", true}, {"2026-01-02T15:00:00.250+10:00", "e1", false}}},
		{"+10:00 wall clock later as a string, earlier as an instant", []put{
			{"2026-01-02T05:00:01Z", "a", true}, {"2026-01-02T15:00:00.5+10:00", "a", false}}},
		{".1 is later than .05 although it is shorter", []put{
			{"2026-01-02T05:00:01.05Z", "a", true}, {"2026-01-02T05:00:01.1Z", "a", true}, {"2026-01-02T05:00:01.05Z", "b", false}}},
		{"no fraction is earlier than a fraction", []put{
			{"2026-01-02T05:00:00.000000001Z", "a", true}, {"2026-01-02T05:00:00Z", "z", false}}},
		{"equal instants: the greater EventId wins, whichever comes first", []put{
			{"2026-01-02T05:00:00Z", "b", true}, {"2026-01-02T05:00:00Z", "a", false}, {"2026-01-02T05:00:00Z", "c", true}}},
		{"equal instants: an absent EventId loses", []put{
			{"2026-01-02T05:00:00Z", "a", true}, {"2026-01-02T05:00:00Z", "", false}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			patient := fmt.Sprintf("order-%d", i)
			var want profile.Event
			for j, p := range tt.puts {
				e := ev(t, patient, p.updatedAt, p.eventID)
				applied, err := s.Put(ctx, e)
				require.NoError(t, err)
				assert.Equal(t, p.wantApplied, applied, "put %d (%s, %q)", j, p.updatedAt, p.eventID)
				if p.wantApplied {
					want = e
				}
			}
			got, ok, err := s.Get(ctx, patient)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, want, got)
		})
	}
}

func TestPutConvergesWhateverTheOrder(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	base := time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)
	events := []profile.Event{
		{UpdatedAt: base, EventID: "a"},
		{UpdatedAt: base.Add(time.Nanosecond), EventID: "a"},
		{UpdatedAt: base.Add(500 * time.Millisecond), EventID: ""},
		{UpdatedAt: base.Add(500 * time.Millisecond), EventID: "b"},
		{UpdatedAt: base.Add(time.Second), EventID: "a", IsPregnant: true},
	}
	newest := events[len(events)-1]

	t.Run("every order, sequentially", func(t *testing.T) {
		n := 0
		permute(events, func(order []profile.Event) {
			n++
			patient := fmt.Sprintf("perm-%d", n)
			for _, e := range order {
				e.PatientID = patient
				_, err := s.Put(ctx, e)
				require.NoError(t, err)
			}
			got, ok, err := s.Get(ctx, patient)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, 0, profile.Compare(newest, got), "order %d left %s/%q", n, got.UpdatedAt, got.EventID)
		})
		assert.Equal(t, 120, n)
	})

	t.Run("racing writers with duplicates", func(t *testing.T) {
		const writers = 8
		var wg sync.WaitGroup
		var applied atomic.Int64
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				order := append([]profile.Event(nil), events...)
				rand.New(rand.NewPCG(uint64(w), 1)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				for _, e := range order {
					e.PatientID = "race"
					ok, err := s.Put(ctx, e)
					assert.NoError(t, err)
					if ok {
						applied.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		got, ok, err := s.Get(ctx, "race")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, 0, profile.Compare(newest, got))
		assert.True(t, got.IsPregnant)
		assert.LessOrEqual(t, applied.Load(), int64(len(events)), "each version can be applied at most once")
	})
}

func TestPutReplacesTheWholeProfile(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	first := profile.Event{PatientID: "p", EventID: "1", FirstName: "John", LastName: "Doe", Sex: "Female", IsPregnant: true,
		UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)}
	second := profile.Event{PatientID: "p", EventID: "2", FirstName: "John", UpdatedAt: first.UpdatedAt.Add(time.Second)}

	for _, e := range []profile.Event{first, second} {
		applied, err := s.Put(ctx, e)
		require.NoError(t, err)
		require.True(t, applied)
	}
	got, ok, err := s.Get(ctx, "p")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, second, got, "fields emptied by the newer event are cleared")

	var all []profile.Event
	require.NoError(t, s.Scan(ctx, func(e profile.Event) { all = append(all, e) }))
	assert.Equal(t, []profile.Event{second}, all)
}

func TestPutRejected(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	tests := []struct {
		name string
		e    profile.Event
	}{
		{"hash key over 2048 bytes", profile.Event{PatientID: strings.Repeat("k", 2049), UpdatedAt: time.Now()}},
		{"item over 400 KB", profile.Event{PatientID: "big", FirstName: strings.Repeat("x", 410_000), UpdatedAt: time.Now()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Put(ctx, tt.e)
			require.Error(t, err)
			assert.ErrorIs(t, err, store.ErrRejected)
		})
	}
}

func TestPutTransientWhenTheStoreIsDown(t *testing.T) {
	d := devenvtest.Dynalite(t)
	s := store.New(devenvtest.Table(t, d, "patient-profile"), "patient-profile", 0)
	require.NoError(t, d.Pause())
	defer func() { _ = d.Resume() }()

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := s.Put(ctx, profile.Event{PatientID: "1", UpdatedAt: time.Now()})
	require.Error(t, err)
	assert.NotErrorIs(t, err, store.ErrRejected, "an unreachable store must be retried, not dead-lettered")

	pingCtx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	assert.Error(t, s.Ping(pingCtx), "readiness must see a hung store")
}

// permute calls fn with every ordering of es.
func permute(es []profile.Event, fn func([]profile.Event)) {
	var rec func(int)
	a := append([]profile.Event(nil), es...)
	rec = func(k int) {
		if k == len(a) {
			fn(a)
			return
		}
		for i := k; i < len(a); i++ {
			a[k], a[i] = a[i], a[k]
			rec(k + 1)
			a[k], a[i] = a[i], a[k]
		}
	}
	rec(0)
}

func TestPingChecksTheKey(t *testing.T) {
	d := devenvtest.Dynalite(t)
	client := devenvtest.Table(t, d, "patient-profile")
	ctx := context.Background()
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("other"),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("PatientId"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("Version"), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("PatientId"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("Version"), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	require.NoError(t, err)

	tests := []struct {
		table   string
		wantErr error
	}{
		{"patient-profile", nil},
		{"other", store.ErrWrongTable},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			err := store.New(client, tt.table, 0).Ping(ctx)
			if tt.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.wantErr)
		})
	}
	t.Run("missing", func(t *testing.T) {
		err := store.New(client, "missing", 0).Ping(ctx)
		require.Error(t, err)
		assert.NotErrorIs(t, err, store.ErrWrongTable, "a missing table may be created yet; it is not the wrong table")
		assert.EqualError(t, err, "dynamodb table missing: not found", "readiness and the startup log say what is missing")
	})
}

// An erasure is a tombstone under the same condition: no order of stale or redelivered updates,
// sequential or racing, brings the profile back, and a newer update (re-registration) replaces it.
func TestDeleteIsATombstoneNoStaleEventUndoes(t *testing.T) {
	d := devenvtest.Dynalite(t)
	client := devenvtest.Table(t, d, "patient-profile")
	const ttl = 30 * 24 * time.Hour
	s := store.New(client, "patient-profile", ttl)
	ctx := context.Background()
	base := time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)
	update := func(at time.Duration, id string) profile.Event {
		return profile.Event{UpdatedAt: base.Add(at), EventID: id, FirstName: "John", LastName: "Doe", Sex: "female", IsPregnant: true}
	}
	deletion := profile.Event{UpdatedAt: base.Add(time.Second), EventID: "del", Deleted: true}
	// Older updates, one at the deletion's very instant but a smaller EventId, and the deletion
	// twice (a redelivery).
	events := []profile.Event{update(0, "a"), update(500*time.Millisecond, "b"), update(time.Second, "c"), deletion, deletion}

	checkTombstone := func(t *testing.T, patient string) {
		t.Helper()
		got, ok, err := s.Get(ctx, patient)
		require.NoError(t, err)
		require.True(t, ok)
		want := deletion
		want.PatientID = patient
		assert.Equal(t, want, got)

		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("patient-profile"),
			Key: map[string]types.AttributeValue{"PatientId": &types.AttributeValueMemberS{Value: patient}}})
		require.NoError(t, err)
		var names []string
		for name := range out.Item {
			names = append(names, name)
		}
		assert.ElementsMatch(t, []string{"PatientId", "OrderKey", "EventId", "Deleted", "DeletedAt", "ExpiresAt"}, names,
			"a tombstone keeps no name, sex or pregnancy status")
		assert.Equal(t, strconv.FormatInt(deletion.UpdatedAt.Add(ttl).Unix(), 10), out.Item["ExpiresAt"].(*types.AttributeValueMemberN).Value)
	}

	t.Run("every order, sequentially", func(t *testing.T) {
		n := 0
		permute(events, func(order []profile.Event) {
			n++
			patient := fmt.Sprintf("erased-%d", n)
			for _, e := range order {
				e.PatientID = patient
				_, err := s.Put(ctx, e)
				require.NoError(t, err)
			}
			checkTombstone(t, patient)
		})
		assert.Equal(t, 120, n)
	})

	t.Run("racing writers", func(t *testing.T) {
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				order := append([]profile.Event(nil), events...)
				rand.New(rand.NewPCG(uint64(w), 2)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				for _, e := range order {
					e.PatientID = "erased-race"
					_, err := s.Put(ctx, e)
					assert.NoError(t, err)
				}
			}()
		}
		wg.Wait()
		checkTombstone(t, "erased-race")
	})

	t.Run("re-registration replaces the tombstone", func(t *testing.T) {
		again := update(2*time.Second, "again")
		again.PatientID = "erased-race"
		applied, err := s.Put(ctx, again)
		require.NoError(t, err)
		require.True(t, applied)
		got, ok, err := s.Get(ctx, "erased-race")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, again, got)

		// And an older deletion, redelivered late, does not erase the new profile.
		late := deletion
		late.PatientID = "erased-race"
		applied, err = s.Put(ctx, late)
		require.NoError(t, err)
		assert.False(t, applied)
	})
}

// A page is one Scan with Limit and ExclusiveStartKey: the pages together are every row once,
// tombstones included, and each holds at most the limit.
func TestPageWalksTheTableOnce(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	want := map[string]bool{}
	for i := range 23 {
		id := "p" + strconv.Itoa(i)
		_, err := s.Put(ctx, ev(t, id, "2026-01-02T05:00:00Z", "e"))
		require.NoError(t, err)
		want[id] = true
	}
	_, err := s.Put(ctx, profile.Event{PatientID: "p3", EventID: "z", Deleted: true,
		UpdatedAt: time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)

	got := map[string]bool{}
	tombstones, pages := 0, 0
	for after := ""; ; {
		rows, next, err := s.Page(ctx, 10, after)
		require.NoError(t, err)
		pages++
		assert.LessOrEqual(t, len(rows), 10)
		for _, r := range rows {
			assert.False(t, got[r.PatientID], "%s on two pages", r.PatientID)
			got[r.PatientID] = true
			if r.Deleted {
				tombstones++
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	assert.Equal(t, want, got)
	assert.Equal(t, 1, tombstones)
	assert.GreaterOrEqual(t, pages, 3)
}
