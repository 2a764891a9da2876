package api

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// stamper gives each event its UpdatedAt and EventId.
type stamper struct {
	now  func() time.Time
	mu   sync.Mutex
	last time.Time
}

func newStamper(now func() time.Time) *stamper { return &stamper{now: now} }

// stamp returns a UTC time strictly after every time it returned before, and a new unique id.
// The wall clock can step back (NTP) or repeat a reading; a later request must still win over an
// earlier one for the same patient, so the time never goes backwards within the process.
func (s *stamper) stamp() (time.Time, string) {
	s.mu.Lock()
	t := s.now().UTC().Round(0) // Round(0) drops the monotonic reading; the event carries wall time.
	if !t.After(s.last) {
		t = s.last.Add(time.Nanosecond)
	}
	s.last = t
	s.mu.Unlock()
	// Version 7 ids are time-ordered, which makes the tie-break on equal instants roughly follow
	// creation order across producers too.
	return t, uuid.Must(uuid.NewV7()).String()
}
