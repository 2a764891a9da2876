package consumer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// The loop's three dependencies, each with one hand-written fake: the reader, the store and the
// dead-letter topic. The store and the dead-letter fakes keep what they were asked, so a test
// checks the calls after the run instead of scripting them before.

// fakeReader hands out msgs in order, then blocks like a reader with nothing to fetch. It
// records every commit. fetchErrs are returned first, one per fetch, as a reader surfaces errors
// it is recovering from.
type fakeReader struct {
	mu        sync.Mutex
	fetchErrs []error
	msgs      []message.Message
	commits   [][]message.Message
	commitErr error
	// failCommits makes that many commits fail before they succeed.
	failCommits int
	// holds makes the fetch after that many messages wait (up to 200ms) until that many
	// commits have happened, to place a commit between two fetches.
	holds map[int]int
	// until makes the fetch after that many messages wait (up to 2s) until the func holds, to
	// keep two events of one patient from being fetched together and coalesced.
	until   map[int]func() bool
	fetched int
}

func (r *fakeReader) Fetch(ctx context.Context) (message.Message, error) {
	r.mu.Lock()
	if len(r.fetchErrs) > 0 {
		err := r.fetchErrs[0]
		r.fetchErrs = r.fetchErrs[1:]
		r.mu.Unlock()
		return message.Message{}, err
	}
	if n, ok := r.holds[r.fetched]; ok {
		deadline := time.Now().Add(200 * time.Millisecond)
		for len(r.commits) < n && ctx.Err() == nil && time.Now().Before(deadline) {
			r.mu.Unlock()
			time.Sleep(time.Millisecond)
			r.mu.Lock()
		}
	}
	if cond, ok := r.until[r.fetched]; ok {
		for deadline := time.Now().Add(2 * time.Second); ctx.Err() == nil && time.Now().Before(deadline); {
			r.mu.Unlock()
			done := cond()
			if !done {
				time.Sleep(time.Millisecond)
			}
			r.mu.Lock()
			if done {
				break
			}
		}
	}
	if len(r.msgs) > 0 {
		r.fetched++
		m := r.msgs[0]
		r.msgs = r.msgs[1:]
		r.mu.Unlock()
		return m, nil
	}
	r.mu.Unlock()
	<-ctx.Done()
	return message.Message{}, ctx.Err()
}

func (r *fakeReader) Commit(_ context.Context, msgs ...message.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.commitErr != nil {
		return r.commitErr
	}
	if r.failCommits > 0 {
		r.failCommits--
		return errors.New("rebalance in progress")
	}
	r.commits = append(r.commits, msgs)
	return nil
}

func (r *fakeReader) setCommitErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commitErr = err
}

// committed returns the next offset to read per partition, as the broker would hold it.
func (r *fakeReader) committed() map[int]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := map[int]int64{}
	for _, c := range r.commits {
		for _, m := range c {
			got[m.Partition] = m.Offset + 1
		}
	}
	return got
}

// fakeStore is a profileWriter that keeps rows under the ordering rule, as the real table does,
// and records what it was asked. A patient's first write waits while the patient is gated;
// every other write takes delay. Failures are injected four ways: the error every write of an
// event gets (rejects: permanent or transient, as the error says), the errors of an event's next
// writes (script), every write while the store is down (setDown), and every write hanging until
// its context ends (hung).
type fakeStore struct {
	delay time.Duration
	hung  bool

	mu       sync.Mutex
	gates    map[string]chan struct{}
	rejects  map[string]error   // by EventID
	script   map[string][]error // by EventID: the errors of its next writes, in turn
	down     error
	rows     map[string]profile.Event
	puts     map[string][]profile.Event // by patient, in call order
	inFlight map[string]int
	overlap  bool // two writes of one patient at once
	cur, max int
}

func newFakeStore(delay time.Duration) *fakeStore {
	return &fakeStore{delay: delay, gates: map[string]chan struct{}{}, rejects: map[string]error{},
		script: map[string][]error{}, rows: map[string]profile.Event{}, puts: map[string][]profile.Event{},
		inFlight: map[string]int{}}
}

// gate makes the patient's next write wait until the returned func is called.
func (s *fakeStore) gate(patient string) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	s.gates[patient] = ch
	return sync.OnceFunc(func() { close(ch) })
}

// setDown makes every write fail with err, or, with nil, brings the store back.
func (s *fakeStore) setDown(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = err
}

func (s *fakeStore) Put(ctx context.Context, e profile.Event) (bool, error) {
	s.mu.Lock()
	s.puts[e.PatientID] = append(s.puts[e.PatientID], e)
	s.inFlight[e.PatientID]++
	if s.inFlight[e.PatientID] > 1 {
		s.overlap = true
	}
	s.cur++
	s.max = max(s.max, s.cur)
	gate := s.gates[e.PatientID]
	delete(s.gates, e.PatientID)
	s.mu.Unlock()

	switch {
	case s.hung:
		<-ctx.Done()
	case gate != nil:
		<-gate
	default:
		time.Sleep(s.delay)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight[e.PatientID]--
	s.cur--
	if s.hung {
		return false, ctx.Err()
	}
	if s.down != nil {
		return false, s.down
	}
	if next := s.script[e.EventID]; len(next) > 0 {
		s.script[e.EventID] = next[1:]
		return false, next[0]
	}
	if err := s.rejects[e.EventID]; err != nil {
		return false, err
	}
	if row, ok := s.rows[e.PatientID]; ok && profile.Compare(row, e) >= 0 {
		return false, nil
	}
	s.rows[e.PatientID] = e
	return true, nil
}

func (s *fakeStore) putsOf(patient string) []profile.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]profile.Event(nil), s.puts[patient]...)
}

func (s *fakeStore) inHand() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *fakeStore) row(patient string) profile.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows[patient]
}

// fakeDeadLetters is a deadLetterer that records what it parks. Its first fail sends fail, and
// every send fails while down is set.
type fakeDeadLetters struct {
	mu    sync.Mutex
	fail  int
	down  error
	sent  []parked
	tries int
}

type parked struct {
	m      message.Message
	reason error
}

func (d *fakeDeadLetters) Send(_ context.Context, m message.Message, reason error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tries++
	if d.down != nil {
		return d.down
	}
	if d.fail > 0 {
		d.fail--
		return errors.New("dead-letter topic unavailable")
	}
	d.sent = append(d.sent, parked{m, reason})
	return nil
}

// reasons returns the parked messages' errors by offset.
func (d *fakeDeadLetters) reasons() map[int64]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[int64]string{}
	for _, p := range d.sent {
		out[p.m.Offset] = p.reason.Error()
	}
	return out
}

// offsets returns the parked messages' offsets in the order they were parked.
func (d *fakeDeadLetters) offsets() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []int64
	for _, p := range d.sent {
		out = append(out, p.m.Offset)
	}
	return out
}
