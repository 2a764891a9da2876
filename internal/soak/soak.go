// Package soak is the convergence test behind `make soak` and e2e's TestSoak: an adversarial
// stream (shuffled, duplicated, tied timestamps, mixed offsets and fraction widths, deletions
// and the Kafka tombstones after them, poison) published straight to the topic, real consumer processes SIGKILLed at random points, and at the
// end every row compared with the newest event per patient and the dead-letter topic with the
// poison sent.
package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// Config sizes a convergence run.
type Config struct {
	Patients int
	// Events is how many valid events to publish in all, duplicates included.
	Events int
	// Poison is how many undecodable or invalid messages to mix in.
	Poison int
	// Kills is how many times the lone consumer of the first phase is SIGKILLed and restarted.
	Kills int
	// Consumers is how many run at once in the second phase; one of them is SIGKILLed.
	Consumers int
	// CrashLoops is how many times, in the third phase, the running consumers are SIGKILLed,
	// Consumers new ones started and SIGKILLed 0.5 to 1.5 s later, before the group has taken
	// them in, and Consumers new ones started again.
	CrashLoops int
	Seed       uint64
	// ConsumerBin is the consumer binary to run.
	ConsumerBin string
	// Logs receives the consumers' and dynalite's output.
	Logs io.Writer
	// Progress, if set, receives one line per phase.
	Progress io.Writer
}

// Result is what a run found.
type Result struct {
	Patients, Converged, Lost, Stale, Wrong int
	Events, Duplicates                      int
	// Deletions counts the deletion events among Events (duplicates included), Erased the
	// patients whose newest event is a deletion, so that their row must be a tombstone, and
	// KafkaTombstones the null values published after the deletions.
	Deletions, Erased, KafkaTombstones int
	// LeakyTombstones counts tombstone items that hold any attribute besides the key, the
	// ordering key and the deletion's own (profile data an erasure must not keep).
	LeakyTombstones                int
	PoisonSent, PoisonDeadLettered int
	UnexpectedDeadLetters          int
	Kills, ConcurrentKills         int
	// CrashLoops counts the rounds of the third phase.
	CrashLoops int
	// KillsInFlight counts the kills that found uncommitted work: messages published but not
	// committed, while the victim was committing progress.
	KillsInFlight int
	Elapsed       time.Duration
	// Problems describes the first differences found.
	Problems []string
}

// OK reports exact convergence: every patient at its newest event, every poison message
// dead-lettered, and nothing else dead-lettered.
func (r Result) OK() bool {
	return r.Converged == r.Patients && r.Lost == 0 && r.Stale == 0 && r.Wrong == 0 && r.LeakyTombstones == 0 &&
		r.PoisonDeadLettered == r.PoisonSent && r.UnexpectedDeadLetters == 0
}

func (r Result) String() string {
	verdict := "converged"
	if !r.OK() {
		verdict = "DIVERGED"
	}
	return fmt.Sprintf("%s %d/%d patients (%d left erased), %d lost, %d stale, %d wrong, %d leaky tombstones, %d/%d poison dead-lettered (%d unexpected), %d kills (%d of a lone consumer, %d of concurrent ones; %d mid-stream), %d crash loops, %d events (%d duplicates, %d deletions) and %d Kafka tombstones in %s",
		verdict, r.Converged, r.Patients, r.Erased, r.Lost, r.Stale, r.Wrong, r.LeakyTombstones, r.PoisonDeadLettered, r.PoisonSent, r.UnexpectedDeadLetters,
		r.Kills+r.ConcurrentKills, r.Kills, r.ConcurrentKills, r.KillsInFlight, r.CrashLoops,
		r.Events, r.Duplicates, r.Deletions, r.KafkaTombstones, r.Elapsed.Round(100*time.Millisecond))
}

// Run publishes an adversarial stream straight to the topic, runs real consumer processes
// against it, SIGKILLs them at random points, and once the group has no lag left checks every
// row against the newest event per patient and the dead-letter topic against the poison sent.
func Run(ctx context.Context, cfg Config) (Result, error) {
	start := time.Now()
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "soak: "+format+"\n", args...)
		}
	}

	opts, err := devenv.Ephemeral()
	if err != nil {
		return Result{}, err
	}
	s, err := devenv.StartStack(ctx, cfg.Logs, opts)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()

	stream := newStream(rng, cfg)
	res := Result{
		Patients: cfg.Patients, Events: stream.events, Duplicates: stream.duplicates, PoisonSent: len(stream.poison),
		Deletions: stream.deletions, KafkaTombstones: stream.kafkaTombstones,
	}
	progress("%d messages (%d events, %d duplicates, %d deletions, %d Kafka tombstones, %d poison) for %d patients",
		len(stream.msgs), stream.events, stream.duplicates, stream.deletions, stream.kafkaTombstones, len(stream.poison), cfg.Patients)

	// A backlog first, then the rest in chunks while the consumers run and die, so that kills
	// land on work in flight.
	half := len(stream.msgs) / 2
	if err := publish(ctx, s, stream.msgs[:half], 1, 0); err != nil {
		return res, fmt.Errorf("publish: %w", err)
	}
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	published := make(chan error, 1)
	var publishing atomic.Bool
	publishing.Store(true)
	// Spread over several seconds, so that the kills of phases 1 and 2 find fresh work in flight
	// even with a consumer fast enough to drain each chunk at once.
	go func() {
		err := publish(pubCtx, s, stream.msgs[half:], 40, 250*time.Millisecond)
		publishing.Store(false)
		published <- err
	}()

	var mu sync.Mutex
	var running []*devenv.Process
	startConsumer := func() error {
		port, err := devenv.FreePort()
		if err != nil {
			return err
		}
		p, err := devenv.Start("consumer", cfg.ConsumerBin, s.ConsumerEnv(port), cfg.Logs)
		if err != nil {
			return err
		}
		mu.Lock()
		running = append(running, p)
		mu.Unlock()
		return nil
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range running {
			p.Kill()
		}
	}()
	sleep := func(lo, hi time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(lo + time.Duration(rng.Int64N(int64(hi-lo)))):
			return nil
		}
	}

	// kill SIGKILLs a consumer once the group has committed progress since since, plus a random
	// moment: the victim is then mid-stream, holding fetched, applied but uncommitted work.
	kill := func(victim *devenv.Process, since int64) error {
		began := time.Now()
		for {
			committed, end, err := broker.GroupOffsets(ctx, s.Cluster(), s.Group, s.Topic)
			waited := time.Since(began)
			// Once everything is published and consumed there is no progress left to wait
			// for: kill anyway, it is still a kill.
			if err == nil && (committed > since || committed == end && !publishing.Load()) {
				break
			}
			if waited > 2*time.Minute {
				return fmt.Errorf("no progress before a kill (committed %d, err %v)", committed, err)
			}
			if err := sleep(50*time.Millisecond, 100*time.Millisecond); err != nil {
				return err
			}
		}
		// Then a random moment within the next few seconds at which there is work in flight
		// (published but not committed): a fast consumer drains each chunk in milliseconds,
		// so a moment picked blindly would often find nothing to lose.
		deadline := time.Now().Add(time.Duration(1+rng.IntN(3)) * time.Second)
		for {
			if err := sleep(10*time.Millisecond, 60*time.Millisecond); err != nil {
				return err
			}
			committed, end, err := broker.GroupOffsets(ctx, s.Cluster(), s.Group, s.Topic)
			if err == nil && committed < end || time.Now().After(deadline) {
				break
			}
		}
		committed, end, err := broker.GroupOffsets(ctx, s.Cluster(), s.Group, s.Topic)
		victim.Kill()
		if err == nil && committed < end {
			res.KillsInFlight++
		}
		return nil
	}
	committedNow := func() int64 {
		c, _, _ := broker.GroupOffsets(ctx, s.Cluster(), s.Group, s.Topic)
		return c
	}

	// Phase 1: one consumer, SIGKILLed mid-stream and restarted.
	since := committedNow()
	if err := startConsumer(); err != nil {
		return res, err
	}
	for range cfg.Kills {
		mu.Lock()
		victim := running[0]
		running = running[1:]
		mu.Unlock()
		if err := kill(victim, since); err != nil {
			return res, err
		}
		res.Kills++
		since = committedNow()
		if err := startConsumer(); err != nil {
			return res, err
		}
	}
	progress("phase 1: %d SIGKILLs of a lone consumer", res.Kills)

	// Phase 2: several at once; one dies and the others take its partitions over.
	for len(running) < cfg.Consumers {
		if err := startConsumer(); err != nil {
			return res, err
		}
	}
	// settled waits until the group's members are exactly the n running consumers, each holding
	// partitions: a dead member still in the group would hold partitions nobody consumes.
	settled := func(n int, within time.Duration) error {
		var members [][]int
		for began := time.Now(); time.Since(began) < within; {
			var err error
			members, err = broker.Assignments(ctx, s.Cluster(), s.Group, s.Topic)
			busy := 0
			for _, m := range members {
				if len(m) > 0 {
					busy++
				}
			}
			if err == nil && len(members) == n && busy == n {
				return nil
			}
			if err := sleep(50*time.Millisecond, 100*time.Millisecond); err != nil {
				return err
			}
		}
		return fmt.Errorf("the group never settled on the %d running consumers within %s: its members hold %v", n, within, members)
	}
	if cfg.Consumers > 1 {
		// Wait for the group to spread over them, so the victim holds partitions when it dies.
		if err := settled(cfg.Consumers, 2*time.Minute); err != nil {
			return res, err
		}
		mu.Lock()
		i := rng.IntN(len(running))
		victim := running[i]
		running = slices.Delete(running, i, i+1)
		mu.Unlock()
		if err := kill(victim, committedNow()); err != nil {
			return res, err
		}
		res.ConcurrentKills++
		progress("phase 2: SIGKILLed 1 of %d concurrent consumers", cfg.Consumers)
	}

	// Phase 3: crash loops. The running consumers are SIGKILLed and new ones started; those are
	// SIGKILLed too, 0.5 to 1.5 s later, while the group is still waiting for the first ones'
	// sessions to expire and so before it has taken them in; then new ones start again. The dead
	// newcomers are members whose join the broker cannot answer: each must expire within its
	// session timeout, or it keeps partitions that nobody consumes (issue 6). So after every loop
	// the group must settle on exactly the live consumers.
	killAll := func() {
		mu.Lock()
		victims := running
		running = nil
		mu.Unlock()
		for _, p := range victims {
			p.Kill()
		}
	}
	startAll := func() error {
		for range cfg.Consumers {
			if err := startConsumer(); err != nil {
				return err
			}
		}
		return nil
	}
	var slowest time.Duration
	for range cfg.CrashLoops {
		killAll()
		if err := startAll(); err != nil {
			return res, err
		}
		if err := sleep(500*time.Millisecond, 1500*time.Millisecond); err != nil {
			return res, err
		}
		killAll()
		if err := startAll(); err != nil {
			return res, err
		}
		began := time.Now()
		// Dead members expire after a session timeout (3 s here) and the group rebalances; a
		// member that outlives a minute would outlive any wait.
		if err := settled(cfg.Consumers, time.Minute); err != nil {
			return res, fmt.Errorf("crash loop %d: %w", res.CrashLoops+1, err)
		}
		slowest = max(slowest, time.Since(began))
		res.CrashLoops++
	}
	if cfg.CrashLoops > 0 {
		progress("phase 3: %d crash loops of %d consumers; the group settled on the live ones within %s each time",
			res.CrashLoops, cfg.Consumers, slowest.Round(100*time.Millisecond))
	}

	if err := <-published; err != nil {
		return res, fmt.Errorf("publish: %w", err)
	}
	progress("all %d messages published; waiting for the group to catch up", len(stream.msgs))
	if err := s.WaitNoLag(ctx, 5*time.Minute, running...); err != nil {
		return res, err
	}

	// The survivors stop gracefully; that is checked too.
	mu.Lock()
	survivors := running
	running = nil
	mu.Unlock()
	for _, p := range survivors {
		_ = p.Signal(syscall.SIGTERM)
	}
	for _, p := range survivors {
		if err := p.Wait(15 * time.Second); err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("a consumer did not stop cleanly on SIGTERM: %v", err))
			p.Kill()
		}
	}

	if err := stream.check(ctx, s, &res); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

func publish(ctx context.Context, s *devenv.Stack, msgs []message.Message, chunks int, pause time.Duration) error {
	w := broker.NewWriter(s.Cluster(), s.Topic)
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Close(closeCtx) // every write waited for its acks: nothing is left to flush
	}()
	size := max(1, (len(msgs)+chunks-1)/chunks)
	for chunk := range slices.Chunk(msgs, size) {
		if err := w.Write(ctx, chunk...); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
	return nil
}

// stream is the adversarial input and what it should produce.
type stream struct {
	msgs   []message.Message
	newest map[string]profile.Event
	poison map[string][]byte // value -> key
	// events and duplicates count valid events, deletions among them; kafkaTombstones the null
	// values, which are not events.
	events, duplicates, deletions, kafkaTombstones int
}

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
var steps = []time.Duration{0, 1, time.Microsecond, time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, time.Second}

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

// check compares the table with the newest event per patient, every tombstone item with what an
// erasure may keep, and the dead-letter topic with the poison sent.
func (st *stream) check(ctx context.Context, s *devenv.Stack, res *Result) error {
	rows := map[string]profile.Event{}
	if err := s.Store.Scan(ctx, func(e profile.Event) { rows[e.PatientID] = e }); err != nil {
		return err
	}
	problem := func(format string, args ...any) {
		if len(res.Problems) < 10 {
			res.Problems = append(res.Problems, fmt.Sprintf(format, args...))
		}
	}
	for patient, want := range st.newest {
		if want.Deleted {
			res.Erased++
		}
		got, ok := rows[patient]
		switch {
		case !ok:
			res.Lost++
			problem("%s: no row", patient)
		case profile.Compare(got, want) < 0:
			res.Stale++
			problem("%s: row at %s/%q, newest is %s/%q", patient, got.UpdatedAt.Format(time.RFC3339Nano), got.EventID, want.UpdatedAt.Format(time.RFC3339Nano), want.EventID)
		case got != want:
			res.Wrong++
			problem("%s: row %+v, want %+v", patient, got, want)
		default:
			res.Converged++
		}
	}
	for patient := range rows {
		if _, ok := st.newest[patient]; !ok {
			res.Wrong++
			problem("%s: a row for a patient never sent (poison applied?)", patient)
		}
	}

	if err := checkTombstoneItems(ctx, s, res, problem); err != nil {
		return err
	}

	dead, err := broker.ReadAll(ctx, s.Cluster(), s.DLQTopic)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, m := range dead {
		if m.Value == nil {
			res.UnexpectedDeadLetters++
			problem("a Kafka tombstone (key %q) was dead-lettered", m.Key)
			continue
		}
		key, isPoison := st.poison[string(m.Value)]
		if !isPoison {
			res.UnexpectedDeadLetters++
			problem("dead letter that is not poison: %.80q", m.Value)
			continue
		}
		if err := checkHeaders(m, key, s.Topic); err != nil {
			problem("dead letter %.40q: %v", m.Value, err)
			res.UnexpectedDeadLetters++
		}
		seen[string(m.Value)] = true
	}
	res.PoisonDeadLettered = len(seen)
	for v := range st.poison {
		if !seen[v] {
			problem("poison never dead-lettered: %.80q", v)
		}
	}
	return nil
}

// tombstoneAttrs are all an erased patient's item may hold. The store reads a tombstone back
// without its other attributes, so only the raw items show whether profile data stayed behind.
var tombstoneAttrs = map[string]bool{
	"PatientId": true, "OrderKey": true, "EventId": true, "Deleted": true, "DeletedAt": true, store.AttrExpiresAt: true,
}

// checkTombstoneItems reads the table's raw items and counts every tombstone that holds anything
// else. It names the attributes, never their values.
func checkTombstoneItems(ctx context.Context, s *devenv.Stack, res *Result, problem func(string, ...any)) error {
	client, err := store.NewClient(ctx, s.Dynalite.Endpoint(), "", 1)
	if err != nil {
		return err
	}
	pages := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan %s: %w", s.Table, err)
		}
		for _, it := range page.Items {
			if d, ok := it["Deleted"].(*types.AttributeValueMemberBOOL); !ok || !d.Value {
				continue
			}
			var extra []string
			for name := range it {
				if !tombstoneAttrs[name] {
					extra = append(extra, name)
				}
			}
			if len(extra) > 0 {
				slices.Sort(extra)
				res.LeakyTombstones++
				patient := ""
				if id, ok := it["PatientId"].(*types.AttributeValueMemberS); ok {
					patient = id.Value
				}
				problem("%s: the tombstone item also holds %v", patient, extra)
			}
		}
	}
	return nil
}

func checkHeaders(m message.Message, key []byte, topic string) error {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	var errs []error
	if string(m.Key) != string(key) {
		errs = append(errs, fmt.Errorf("key %q, sent %q", m.Key, key))
	}
	if h[deadletter.HeaderError] == "" {
		errs = append(errs, errors.New("no error header"))
	}
	if h[deadletter.HeaderTopic] != topic {
		errs = append(errs, fmt.Errorf("source topic %q", h[deadletter.HeaderTopic]))
	}
	if _, err := strconv.Atoi(h[deadletter.HeaderPartition]); err != nil {
		errs = append(errs, fmt.Errorf("source partition %q", h[deadletter.HeaderPartition]))
	}
	if _, err := strconv.ParseInt(h[deadletter.HeaderOffset], 10, 64); err != nil {
		errs = append(errs, fmt.Errorf("source offset %q", h[deadletter.HeaderOffset]))
	}
	return errors.Join(errs...)
}
