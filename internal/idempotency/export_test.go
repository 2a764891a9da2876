package idempotency

import "time"

// Hooks for the tests, which are package idempotency_test because they start dynalite through
// devenvtest, which imports this package.

// SetClock replaces s's clock and the ids it gives lease holders.
func SetClock(s *Store, now func() time.Time, newOwner func() string) {
	s.now, s.newOwner = now, newOwner
}

// Holder is the record a claim refers to and, if it holds the lease, its holder's id.
func (c Claim) Holder() (key, owner string) { return c.key, c.owner }

// Outcomes is how many outcomes there are.
const Outcomes = len(outcomeNames)
