package consumer

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

func (c *Consumer) waiting(patient string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if q, ok := c.keys[patient]; ok {
		return len(q.waiting)
	}
	return 0
}

func TestConsumerPerPatientOrderWithConcurrency(t *testing.T) {
	// 40 patients, 5 events each, interleaved on one partition: offset order is each patient's
	// time order.
	const patients, perPatient = 40, 5
	var msgs []message.Message
	for i := range perPatient {
		for p := range patients {
			msgs = append(msgs, eventMsg(t, 0, int64(len(msgs)), event(fmt.Sprint(p), i)))
		}
	}
	st := newFakeStore(2 * time.Millisecond)
	cfg := testConfig
	cfg.MaxInFlight = 8
	r := &fakeReader{msgs: msgs}
	c := New(discard, r, st, &fakeDeadLetters{}, cfg)

	require.NoError(t, runUntil(t, c, func() bool { return r.committed()[0] == int64(len(msgs)) }))

	assert.Greater(t, st.max, 1, "patients of one partition were handled one at a time")
	assert.LessOrEqual(t, st.max, cfg.MaxInFlight, "more writes in flight than MaxInFlight")
	assert.False(t, st.overlap, "two writes of one patient ran at once")
	for p := range patients {
		id := fmt.Sprint(p)
		puts := st.putsOf(id)
		for i := 1; i < len(puts); i++ {
			assert.Equal(t, 1, profile.Compare(puts[i], puts[i-1]), "patient %s: write %d is not newer than the one before", id, i)
		}
		assert.Equal(t, event(id, perPatient-1), st.row(id), "patient %s", id)
	}
	s := c.Stats()
	assert.Equal(t, int64(len(msgs)), s.Applied+s.Stale+s.Superseded)
	assert.Zero(t, s.Stale)
}

func TestConsumerCoalesces(t *testing.T) {
	// Offset 0 is in hand while offsets 1-5 of the same patient arrive, out of time order; the
	// newest of them is at offset 2.
	msgs := func(t *testing.T) []message.Message {
		var out []message.Message
		for i, ms := range []int{1, 30, 50, 10, 40, 20} {
			out = append(out, eventMsg(t, 0, int64(i), event("1", ms)))
		}
		return out
	}
	tests := []struct {
		name      string
		rejected  []int // ms of the events the store rejects for good
		wantPuts  []profile.Event
		wantStats Stats
		wantDLQ   []int64
	}{
		{
			name:      "only the newest waiting event is written",
			wantPuts:  []profile.Event{event("1", 1), event("1", 50)},
			wantStats: Stats{Applied: 2, Superseded: 4},
		},
		{
			name:      "a rejected newest is dead-lettered and the next newest written",
			rejected:  []int{50},
			wantPuts:  []profile.Event{event("1", 1), event("1", 50), event("1", 40)},
			wantStats: Stats{Applied: 2, DeadLettered: 1, Superseded: 3},
			wantDLQ:   []int64{2},
		},
		{
			name:      "rejections go on down to the newest that can be applied",
			rejected:  []int{50, 40, 30},
			wantPuts:  []profile.Event{event("1", 1), event("1", 50), event("1", 40), event("1", 30), event("1", 20)},
			wantStats: Stats{Applied: 2, DeadLettered: 3, Superseded: 1},
			wantDLQ:   []int64{2, 4, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore(0)
			for _, ms := range tt.rejected {
				st.rejects[event("1", ms).EventID] = fmt.Errorf("put profile 1: %w: ValidationException", errRejected)
			}
			release := st.gate("1")
			defer release()
			d := &fakeDeadLetters{}
			// Offset 0 is in hand before the others are fetched.
			r := &fakeReader{msgs: msgs(t), until: map[int]func() bool{1: func() bool { return len(st.putsOf("1")) == 1 }}}
			c := New(discard, r, st, d, testConfig)

			require.NoError(t, runUntil(t, c, func() bool {
				if c.waiting("1") == 5 {
					release()
				}
				return r.committed()[0] == 6
			}))

			assert.Equal(t, tt.wantPuts, st.putsOf("1"))
			want := tt.wantPuts[len(tt.wantPuts)-1]
			assert.Equal(t, want, st.row("1"), "the row is not at the newest event that can be applied")
			assert.Equal(t, tt.wantStats, withoutCommits(c.Stats()))
			assert.Equal(t, tt.wantDLQ, d.offsets())
		})
	}
}

func TestConsumerCommitsTheContiguousWatermark(t *testing.T) {
	// Offset 0 is slow; 1-3 are other patients' and finish first.
	st := newFakeStore(0)
	release := st.gate("a")
	defer release()
	r := &fakeReader{msgs: []message.Message{
		eventMsg(t, 0, 0, event("a", 1)), eventMsg(t, 0, 1, event("b", 1)), eventMsg(t, 0, 2, event("c", 1)), eventMsg(t, 0, 3, event("d", 1)),
		eventMsg(t, 1, 0, event("e", 1)),
	}}
	c := New(discard, r, st, &fakeDeadLetters{}, testConfig)

	var heldAt map[int]int64
	require.NoError(t, runUntil(t, c, func() bool {
		if heldAt == nil && c.Stats().Applied == 4 {
			time.Sleep(10 * testConfig.CommitInterval) // time for commits, had there been any
			heldAt = r.committed()
			release()
		}
		return r.committed()[0] == 4
	}))

	assert.Equal(t, map[int]int64{1: 1}, heldAt, "partition 0 was committed past its slow offset 0")
	assert.Equal(t, map[int]int64{0: 4, 1: 1}, r.committed())
}

func TestConsumerBoundsWhatItBuffers(t *testing.T) {
	st := newFakeStore(0)
	var releases []func()
	var msgs []message.Message
	for p := range 10 {
		releases = append(releases, st.gate(fmt.Sprint(p)))
		msgs = append(msgs, eventMsg(t, 0, int64(p), event(fmt.Sprint(p), 1)))
	}
	cfg := testConfig
	cfg.MaxBuffered = 4
	r := &fakeReader{msgs: msgs}
	c := New(discard, r, st, &fakeDeadLetters{}, cfg)

	var fetched int
	require.NoError(t, runUntil(t, c, func() bool {
		if fetched == 0 && st.inHand() == 4 {
			time.Sleep(20 * time.Millisecond) // time to fetch more, were it allowed
			r.mu.Lock()
			fetched = r.fetched
			r.mu.Unlock()
			for _, release := range releases {
				release()
			}
		}
		return r.committed()[0] == 10
	}))

	assert.Equal(t, 4, fetched, "fetched more messages than MaxBuffered while none was final")
	assert.Equal(t, int64(10), c.Stats().Applied)
}
