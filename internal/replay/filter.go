package replay

import (
	"errors"
	"regexp"

	"github.com/ankitamadan/patient-profile/internal/deadletter"
)

// Filter chooses dead letters. Every condition that is set must hold; the zero Filter (with
// Partition -1) chooses them all. Partition and offsets are the original's, in the event topic
// (dlq-source-partition, dlq-source-offset), not the dead letter's own.
type Filter struct {
	// Partition is the source partition, or -1 for any.
	Partition int
	// From and To bound the source offset, both inclusive; -1 leaves that end open. They need a
	// Partition: offsets of different partitions are unrelated.
	From, To int64
	// Patient is the key, or empty for any.
	Patient string
	// Error must match dlq-error, if set: a plain substring is a regexp.QuoteMeta of it.
	Error *regexp.Regexp
}

// All is the Filter that chooses every dead letter.
var All = Filter{Partition: -1, From: -1, To: -1}

// Check reports a Filter that cannot mean what its user wanted.
func (f Filter) Check() error {
	switch {
	case f.Partition < -1 || f.From < -1 || f.To < -1:
		return errors.New("partition and offsets must not be negative")
	case (f.From >= 0 || f.To >= 0) && f.Partition < 0:
		return errors.New("an offset range needs a partition: offsets of different partitions are unrelated")
	case f.From >= 0 && f.To >= 0 && f.From > f.To:
		return errors.New("the offset range is empty: from is after to")
	}
	return nil
}

// Match reports whether f chooses d.
func (f Filter) Match(d deadletter.DeadLetter) bool {
	switch {
	case f.Partition >= 0 && d.Source.Partition != f.Partition:
		return false
	case f.From >= 0 && d.Source.Offset < f.From:
		return false
	case f.To >= 0 && d.Source.Offset > f.To:
		return false
	case f.Patient != "" && d.Patient() != f.Patient:
		return false
	case f.Error != nil && !f.Error.MatchString(d.Error):
		return false
	}
	return true
}
