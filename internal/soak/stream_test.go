package soak

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// The stream is what the soak's verdict rests on: every message it counts as an event must decode
// to what the generator meant, and newest must be the newest of what was published.
func TestStream(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		st := newStream(rand.New(rand.NewPCG(seed, seed)), Config{Patients: 200, Events: 2000, Poison: 9})
		newest := map[string]profile.Event{}
		var events, deletions, kafkaTombstones int
		for _, m := range st.msgs {
			if _, isPoison := st.poison[string(m.Value)]; isPoison {
				continue
			}
			if m.Value == nil {
				kafkaTombstones++
				continue
			}
			e, err := profile.Decode(m.Value)
			require.NoError(t, err, "%s", m.Value)
			require.Equal(t, string(m.Key), e.PatientID)
			events++
			if e.Deleted {
				deletions++
				assert.Empty(t, e.FirstName+e.LastName+e.Sex, "a deletion carries no profile")
			}
			if cur, ok := newest[e.PatientID]; !ok || profile.Compare(e, cur) > 0 {
				newest[e.PatientID] = e
			}
		}
		assert.Equal(t, st.newest, newest, "seed %d", seed)
		assert.Equal(t, st.events, events, "seed %d", seed)
		assert.Equal(t, st.deletions, deletions, "seed %d", seed)
		assert.Equal(t, st.kafkaTombstones, kafkaTombstones, "seed %d", seed)
		assert.LessOrEqual(t, st.kafkaTombstones, deletions, "a Kafka tombstone follows each distinct deletion")

		var erased, reregistered int
		for p, e := range st.newest {
			switch {
			case e.Deleted:
				erased++
			case deletedOnce(st, p):
				reregistered++
			}
		}
		assert.Positive(t, erased, "seed %d: some patients stay erased", seed)
		assert.Positive(t, reregistered, "seed %d: some erased patients register again", seed)
	}
}

func deletedOnce(st *stream, patient string) bool {
	for _, m := range st.msgs {
		if string(m.Key) == patient && m.Value == nil {
			return true
		}
	}
	return false
}
