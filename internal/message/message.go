// Package message is the project's own form of a Kafka message: what the consumer loop, the
// replay command, the soak and the tools handle. Only package broker knows the Kafka client, so
// the code that decides what happens to an event can be read, and tested, without it.
package message

import (
	"errors"
	"fmt"
	"time"
)

// Message is one record of a topic partition.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	// HighWaterMark is the offset the partition's next message will get, as the broker said when
	// this one was fetched; zero when unknown (a message built to be written).
	HighWaterMark int64
	Key           []byte
	// Value is nil for a Kafka tombstone: a key with a null value, which a compacted topic keeps
	// until it forgets the key. An empty value is not a tombstone.
	Value   []byte
	Headers []Header
	// Time is the record's timestamp.
	Time time.Time
}

// Header is one record header. Kafka allows a key to appear more than once.
type Header struct {
	Key   string
	Value []byte
}

// Header returns the value of the first header named key, and whether there is one.
func (m Message) Header(key string) ([]byte, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// At is where the message is.
func (m Message) At() Coordinates {
	return Coordinates{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
}

// Coordinates locate a message.
type Coordinates struct {
	Topic     string
	Partition int
	Offset    int64
}

func (c Coordinates) String() string { return fmt.Sprintf("%s/%d/%d", c.Topic, c.Partition, c.Offset) }

// ErrClosed is returned by a reader closed under its caller: no message will come.
var ErrClosed = errors.New("reader closed")

// WriteErrors is the error of a batch write that failed for some of its messages: one entry per
// message, in order, nil for each that was written. A writer returns it only when it knows which
// messages failed; any other error means none of them is known to be written.
type WriteErrors []error

func (e WriteErrors) Error() string {
	failed := 0
	var first error
	for _, err := range e {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	return fmt.Sprintf("%d of %d messages not written, the first: %v", failed, len(e), first)
}
