package profile

import (
	"strings"
)

// orderKeyTime is UTC with exactly nine fraction digits and a four-digit year, so every
// timestamp has the same width and byte order equals instant order. RFC3339Nano would not do:
// it trims trailing zeros ("...:00Z" sorts after "...:00.1Z") and keeps the offset.
const orderKeyTime = "2006-01-02T15:04:05.000000000Z"

// Compare orders events by the ordering rule: by UpdatedAt as an instant, then by EventID, byte
// by byte. It returns -1, 0 or +1. Equal means the same version: applying it again is a no-op.
func Compare(a, b Event) int {
	if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.EventID, b.EventID)
}

// OrderKey is Compare in a form a store can compare: for any two events a and b,
// strings.Compare(a.OrderKey(), b.OrderKey()) == Compare(a, b). DynamoDB compares strings by
// their UTF-8 bytes, as Go does, so a ConditionExpression "OrderKey < :key" enforces the rule
// atomically in the store.
//
// The timestamp part has a fixed width, so the EventID only decides between equal instants, and
// an absent EventID ("") sorts before any other.
func (e Event) OrderKey() string {
	return e.UpdatedAt.UTC().Format(orderKeyTime) + "#" + e.EventID
}
