// Package deadletter is the dead-letter format: how a message that can never be applied is
// parked (the consumer), read back (the replay command, the soak) and published again. Its
// headers are a contract between those and anyone who reads the dead-letter topic.
package deadletter

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ankitamadan/patient-profile/internal/message"
)

// Headers a dead letter carries besides the original message's own.
const (
	HeaderError     = "dlq-error"
	HeaderTopic     = "dlq-source-topic"
	HeaderPartition = "dlq-source-partition"
	HeaderOffset    = "dlq-source-offset"
	// HeaderValueDropped, with the original value's size, marks a dead letter whose value was too
	// large to publish and was left out.
	HeaderValueDropped = "dlq-value-dropped"
)

// Headers a replayed event carries besides the original's own.
const (
	// HeaderReplayedFrom is the dead letter the event was replayed from: topic/partition/offset.
	// It starts with dlq- so that a later replay of the same event (it failed again) drops it
	// with the other dead-letter headers and sets its own.
	HeaderReplayedFrom = "dlq-replayed-from"
	// HeaderReplaySource is where the event was first published: topic/partition/offset. A later
	// replay keeps it.
	HeaderReplaySource = "replay-source"
	// HeaderEdited is "true" on an event whose value a person replaced.
	HeaderEdited = "replay-edited"
)

// New returns the dead letter of m: its key, value and headers, and headers that say why it was
// parked and where it came from.
func New(m message.Message, reason error) message.Message {
	headers := make([]message.Header, 0, len(m.Headers)+4)
	headers = append(headers, m.Headers...)
	headers = append(headers,
		message.Header{Key: HeaderError, Value: []byte(reason.Error())},
		message.Header{Key: HeaderTopic, Value: []byte(m.Topic)},
		message.Header{Key: HeaderPartition, Value: []byte(strconv.Itoa(m.Partition))},
		message.Header{Key: HeaderOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
	)
	return message.Message{Key: m.Key, Value: m.Value, Headers: headers}
}

// WithoutValue returns dead letter d without its value, marked with the value's size: for a value
// too large to publish again. The source headers still point at the original.
func WithoutValue(d message.Message) message.Message {
	headers := slices.Concat(d.Headers,
		[]message.Header{{Key: HeaderValueDropped, Value: []byte(strconv.Itoa(len(d.Value)))}})
	return message.Message{Key: d.Key, Headers: headers}
}

// DeadLetter is a message of the dead-letter topic, read back into what it says.
type DeadLetter struct {
	// At is where the dead letter is, in the dead-letter topic.
	At message.Coordinates
	// Source is where the original was when it failed (dlq-source-*).
	Source message.Coordinates
	// Key is the original key: the patient's id.
	Key, Value []byte
	// Headers are the original's own headers, without the dead-letter and replay ones.
	Headers []message.Header
	// Error is why it was parked (dlq-error).
	Error string
	// DroppedSize is the size of the original value when it was too large to park and was left
	// out (dlq-value-dropped); zero otherwise.
	DroppedSize int
	// FirstSource is replay-source: where the event was first published, if it has been
	// replayed before.
	FirstSource string
}

// Patient is the key as text.
func (d DeadLetter) Patient() string { return string(d.Key) }

// ValueDropped reports whether the dead letter lacks its value, which then cannot be replayed
// from here.
func (d DeadLetter) ValueDropped() bool { return d.DroppedSize > 0 }

// Parse reads a message of the dead-letter topic. It fails if the message lacks the source
// headers every dead letter carries: it was not parked by the consumer.
func Parse(m message.Message) (DeadLetter, error) {
	d := DeadLetter{At: m.At(), Key: m.Key, Value: m.Value}
	var partition, offset string
	var hasTopic bool
	for _, h := range m.Headers {
		switch h.Key {
		case HeaderError:
			d.Error = string(h.Value)
		case HeaderTopic:
			d.Source.Topic, hasTopic = string(h.Value), true
		case HeaderPartition:
			partition = string(h.Value)
		case HeaderOffset:
			offset = string(h.Value)
		case HeaderValueDropped:
			n, err := strconv.Atoi(string(h.Value))
			if err != nil || n <= 0 {
				return d, fmt.Errorf("header %s=%q is not a size", h.Key, h.Value)
			}
			d.DroppedSize = n
		case HeaderReplaySource:
			d.FirstSource = string(h.Value)
		}
		if !isAdded(h.Key) {
			d.Headers = append(d.Headers, h)
		}
	}
	if !hasTopic || d.Source.Topic == "" {
		return d, fmt.Errorf("no %s header", HeaderTopic)
	}
	var err error
	if d.Source.Partition, err = strconv.Atoi(partition); err != nil || d.Source.Partition < 0 {
		return d, fmt.Errorf("header %s=%q is not a partition", HeaderPartition, partition)
	}
	if d.Source.Offset, err = strconv.ParseInt(offset, 10, 64); err != nil || d.Source.Offset < 0 {
		return d, fmt.Errorf("header %s=%q is not an offset", HeaderOffset, offset)
	}
	return d, nil
}

// isAdded tells the headers the dead-letter topic and earlier replays added from the original's
// own, which a replay carries over.
func isAdded(key string) bool {
	return strings.HasPrefix(key, "dlq-") || strings.HasPrefix(key, "replay-")
}

// Origin is where the event was first published: the source, or, for an event that was parked
// again after a replay, the source of the dead letter it was replayed from. Dead-lettering is at
// least once, so the same source can be parked twice; and a replay that fails again is parked
// again under a new source. Both are the same event.
func (d DeadLetter) Origin() string {
	if d.FirstSource != "" {
		return d.FirstSource
	}
	return d.Source.String()
}

// Replay is the event to publish again for d: its original key, value and headers, marked as
// replayed from d. value replaces d's own value if it is not nil.
func (d DeadLetter) Replay(value []byte) message.Message {
	headers := make([]message.Header, 0, len(d.Headers)+3)
	headers = append(headers, d.Headers...)
	headers = append(headers,
		message.Header{Key: HeaderReplayedFrom, Value: []byte(d.At.String())},
		message.Header{Key: HeaderReplaySource, Value: []byte(d.Origin())},
	)
	if value == nil {
		value = d.Value
	} else {
		headers = append(headers, message.Header{Key: HeaderEdited, Value: []byte("true")})
	}
	return message.Message{Key: d.Key, Value: value, Headers: headers}
}
