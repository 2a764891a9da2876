package soak

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// stream is the adversarial input and what it should produce.
type stream struct {
	msgs   []message.Message
	newest map[string]profile.Event
	poison map[string][]byte // value -> key
	// events and duplicates count valid events, deletions among them; kafkaTombstones the null
	// values, which are not events.
	events, duplicates, deletions, kafkaTombstones int
}

// offsets are the UTC offsets the stamps are written in, half-hour and quarter-hour ones included.
var offsets = []*time.Location{
	time.UTC,
	time.FixedZone("", 10*3600),
	time.FixedZone("", -(5*3600 + 30*60)),
	time.FixedZone("", 14*3600),
	time.FixedZone("", -12*3600),
	time.FixedZone("", 5*3600+45*60),
}

// steps are the gaps between a patient's versions: from a nanosecond to a second, and zero, which
// makes two versions share an instant and differ only by EventId.
var steps = []time.Duration{
	0, 1, time.Microsecond, time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, time.Second,
}

// newStream generates cfg's stream from rng: the same seed gives the same stream.
func newStream(rng *rand.Rand, cfg Config) *stream {
	st := &stream{newest: map[string]profile.Event{}, poison: map[string][]byte{}}
	perPatient := max(1, cfg.Events/max(cfg.Patients, 1))
	base := time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)
	for p := range cfg.Patients {
		patient := "p" + strconv.Itoa(p)
		t := base.Add(time.Duration(rng.IntN(86400)) * time.Second)
		n := perPatient - perPatient/10
		deletions := erasures(rng, p, n)
		var versions []message.Message
		var deleted []bool // parallel to versions
		var tombstones []message.Message
		for v := range n {
			step := steps[rng.IntN(len(steps))]
			t = t.Add(step)
			id := eventID(rng, v)
			if id == "" && step == 0 && v > 0 {
				// Two different events with the same instant and no EventId are the same version
				// by the ordering rule, and which one a replica keeps would depend on arrival
				// order. The contract rules them out; so does the generator.
				id = fmt.Sprintf("tie-%d", v)
			}
			e := profile.Event{
				PatientID: patient, UpdatedAt: t,
				EventID:    id,
				FirstName:  fmt.Sprintf("F%d-%d", p, v),
				LastName:   fmt.Sprintf("L%d", v),
				IsPregnant: rng.IntN(2) == 0,
				Sex:        []string{"Female", "Male", ""}[rng.IntN(3)],
			}
			if deletions[v] {
				e = profile.Event{PatientID: patient, UpdatedAt: t, EventID: id, Deleted: true}
				// The producer publishes a Kafka tombstone right after a deletion; here it lands
				// anywhere, like everything else.
				tombstones = append(tombstones, message.Message{Key: []byte(patient)})
			}
			if cur, ok := st.newest[patient]; !ok || profile.Compare(e, cur) > 0 {
				st.newest[patient] = e
			}
			versions = append(versions, message.Message{Key: []byte(patient), Value: encodeLoosely(rng, e)})
			deleted = append(deleted, e.Deleted)
		}
		// Exact duplicates, as a retried produce would make: of deletions too.
		for range perPatient / 10 {
			i := rng.IntN(n)
			versions = append(versions, versions[i])
			deleted = append(deleted, deleted[i])
			st.duplicates++
		}
		for _, d := range deleted {
			if d {
				st.deletions++
			}
		}
		st.events += len(versions)
		st.kafkaTombstones += len(tombstones)
		st.msgs = append(st.msgs, versions...)
		st.msgs = append(st.msgs, tombstones...)
	}
	for i := range cfg.Poison {
		key, value := poison(rng, i)
		st.poison[string(value)] = key
		st.msgs = append(st.msgs, message.Message{Key: key, Value: value})
	}
	// One global shuffle reorders each patient's events too.
	rng.Shuffle(len(st.msgs), func(i, j int) { st.msgs[i], st.msgs[j] = st.msgs[j], st.msgs[i] })
	return st
}

// erasures picks which of patient p's n versions are deletions. One patient in ten asks to be
// erased, once or twice: every other one of those for good (its last version is a deletion, so
// its row must end as a tombstone), the rest somewhere among their versions, so that a later
// update re-registers them and an older one arriving after the deletion must still lose to it.
// Which patients is fixed, so that every run has both kinds; where is random.
func erasures(rng *rand.Rand, p, n int) map[int]bool {
	deletions := map[int]bool{}
	if p%10 != 0 {
		return deletions
	}
	if p%20 == 0 || n == 1 {
		deletions[n-1] = true
		if rng.IntN(2) == 0 {
			deletions[rng.IntN(n)] = true
		}
		return deletions
	}
	for range 1 + rng.IntN(2) {
		deletions[rng.IntN(n-1)] = true
	}
	return deletions
}

// eventID is usually unique, sometimes absent (as from producers that don't set one).
func eventID(rng *rand.Rand, v int) string {
	if rng.IntN(20) == 0 {
		return ""
	}
	return fmt.Sprintf("%08x-%d", rng.Uint32(), v)
}

// encodeLoosely writes e as another producer might: the stamp (UpdatedAt, or DeletedAt for a
// deletion) in a random UTC offset, with a random fraction width that still states the exact
// instant, and EventId left out when empty.
func encodeLoosely(rng *rand.Rand, e profile.Event) []byte {
	fields := map[string]any{"PatientId": e.PatientID}
	if e.Deleted {
		fields["DeletedAt"] = looseTime(rng, e.UpdatedAt)
	} else {
		fields["FirstName"], fields["LastName"] = e.FirstName, e.LastName
		fields["IsPregnant"], fields["Sex"] = e.IsPregnant, e.Sex
		fields["UpdatedAt"] = looseTime(rng, e.UpdatedAt)
	}
	if e.EventID != "" {
		fields["EventId"] = e.EventID
	}
	b, _ := json.Marshal(fields)
	return b
}

// looseTime writes t in RFC 3339 with a random UTC offset and a random fraction width, padded
// with zeros, that still states the exact instant.
func looseTime(rng *rand.Rand, t time.Time) string {
	t = t.In(offsets[rng.IntN(len(offsets))])
	digits := strings.TrimRight(fmt.Sprintf("%09d", t.Nanosecond()), "0")
	width := len(digits) + rng.IntN(9-len(digits)+1) // pad with zeros at random
	ts := t.Format("2006-01-02T15:04:05")
	if width > 0 {
		ts += "." + fmt.Sprintf("%09d", t.Nanosecond())[:width]
	}
	if _, off := t.Zone(); off == 0 && rng.IntN(2) == 0 {
		ts += "Z"
	} else {
		ts += t.Format("-07:00")
	}
	return ts
}

// poison returns a message that can never be applied. Each is unique so it can be found in the
// dead-letter topic.
func poison(rng *rand.Rand, i int) ([]byte, []byte) {
	key := []byte("poison-" + strconv.Itoa(i))
	kinds := []string{
		`not json %d`,
		`{"PatientId":"poison-%d","UpdatedAt":"yesterday"}`,
		`{"PatientId":"","UpdatedAt":"2026-01-02T05:00:00Z","FirstName":"%d"}`,
		`{"FirstName":"no patient %d","UpdatedAt":"2026-01-02T05:00:00Z"}`,
		`{"PatientId":%d,"UpdatedAt":"2026-01-02T05:00:00Z"}`,
		`{"PatientId":"poison-%d","IsPregnant":"yes","UpdatedAt":"2026-01-02T05:00:00Z"}`,
		`{"PatientId":"poison-%d","UpdatedAt":"2026-01-02T05:00:00"}`,
		`{"PatientId":"poison-%d","UpdatedAt":"2026-01-02T05:00:00Z"`,
		`[%d]`,
	}
	if rng.IntN(5) == 0 {
		key = nil
	}
	return key, []byte(fmt.Sprintf(kinds[i%len(kinds)], i))
}
