// Package replay publishes dead letters back to the event topic, once a person has fixed what
// parked them: the consumer applies them again under the ordering rule, so replaying an event
// that was already applied, or replaying twice, changes nothing.
package replay

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/ankitamadan/patient-profile/internal/broker"
)

// Headers a replayed event carries, besides the original's own.
const (
	// HeaderReplayedFrom is the dead letter the event was replayed from: topic/partition/offset.
	// It starts with dlq- so that a later replay of the same event (it failed again) drops it
	// with the other dead-letter headers and sets its own.
	HeaderReplayedFrom = "dlq-replayed-from"
	// HeaderSource is where the event was first published: topic/partition/offset. A later
	// replay keeps it.
	HeaderSource = "replay-source"
	// HeaderEdited is "true" on an event whose value a person replaced (-edit).
	HeaderEdited = "replay-edited"
)

// Coordinates locate a message.
type Coordinates struct {
	Topic     string
	Partition int
	Offset    int64
}

func (c Coordinates) String() string { return fmt.Sprintf("%s/%d/%d", c.Topic, c.Partition, c.Offset) }

// DeadLetter is a message of the dead-letter topic, read back into what it says.
type DeadLetter struct {
	// At is where the dead letter is, in the dead-letter topic.
	At Coordinates
	// Source is where the original was when it failed (dlq-source-*).
	Source Coordinates
	// Key is the original key: the patient's id.
	Key, Value []byte
	// Headers are the original's own headers, without the dead-letter ones.
	Headers []kafka.Header
	// Error is why it was parked (dlq-error).
	Error string
	// DroppedSize is the size of the original value when it was too large to park and was left
	// out (dlq-value-dropped); zero otherwise.
	DroppedSize int
	// FirstSource is replay-source: where the event was first published, if it has been
	// replayed before.
	FirstSource string
}

// Patient is the key as text, for people and for the -patient filter.
func (d DeadLetter) Patient() string { return string(d.Key) }

// ValueDropped reports whether the dead letter lacks its value, which then cannot be replayed
// from here.
func (d DeadLetter) ValueDropped() bool { return d.DroppedSize > 0 }

// Parse reads a message of the dead-letter topic. It fails if the message lacks the source
// headers every dead letter carries: it was not parked by the consumer.
func Parse(m kafka.Message) (DeadLetter, error) {
	d := DeadLetter{At: Coordinates{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}, Key: m.Key, Value: m.Value}
	var partition, offset string
	var hasTopic bool
	for _, h := range m.Headers {
		switch h.Key {
		case broker.HeaderError:
			d.Error = string(h.Value)
		case broker.HeaderTopic:
			d.Source.Topic, hasTopic = string(h.Value), true
		case broker.HeaderPartition:
			partition = string(h.Value)
		case broker.HeaderOffset:
			offset = string(h.Value)
		case broker.HeaderValueDropped:
			n, err := strconv.Atoi(string(h.Value))
			if err != nil || n <= 0 {
				return d, fmt.Errorf("header %s=%q is not a size", h.Key, h.Value)
			}
			d.DroppedSize = n
		case HeaderSource:
			d.FirstSource = string(h.Value)
		}
		if !isReplayHeader(h.Key) {
			d.Headers = append(d.Headers, h)
		}
	}
	if !hasTopic || d.Source.Topic == "" {
		return d, fmt.Errorf("no %s header", broker.HeaderTopic)
	}
	var err error
	if d.Source.Partition, err = strconv.Atoi(partition); err != nil || d.Source.Partition < 0 {
		return d, fmt.Errorf("header %s=%q is not a partition", broker.HeaderPartition, partition)
	}
	if d.Source.Offset, err = strconv.ParseInt(offset, 10, 64); err != nil || d.Source.Offset < 0 {
		return d, fmt.Errorf("header %s=%q is not an offset", broker.HeaderOffset, offset)
	}
	return d, nil
}

// isReplayHeader tells the headers the dead-letter topic and earlier replays added from the
// original's own, which a replay carries over.
func isReplayHeader(key string) bool {
	return strings.HasPrefix(key, "dlq-") || strings.HasPrefix(key, "replay-")
}

// Origin is where the event was first published: the source, or, for an event that was parked
// again after a replay, the source of the dead letter it was replayed from. A run replays each
// origin once. Dead-lettering is at least once, so the same source can be parked twice; and a
// replay that fails again is parked again under a new source. Both are the same event.
func (d DeadLetter) Origin() string {
	if d.FirstSource != "" {
		return d.FirstSource
	}
	return d.Source.String()
}

// message is the event to publish for d: its original key, value and headers, marked as
// replayed from d. value replaces d's own value if it is not nil.
func (d DeadLetter) message(value []byte) kafka.Message {
	headers := append(append([]kafka.Header(nil), d.Headers...),
		kafka.Header{Key: HeaderReplayedFrom, Value: []byte(d.At.String())},
		kafka.Header{Key: HeaderSource, Value: []byte(d.Origin())},
	)
	if value == nil {
		value = d.Value
	} else {
		headers = append(headers, kafka.Header{Key: HeaderEdited, Value: []byte("true")})
	}
	return kafka.Message{Key: d.Key, Value: value, Headers: headers}
}
