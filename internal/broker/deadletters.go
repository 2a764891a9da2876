package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/message"
)

// DeadLetters publishes messages that can never be applied to the dead-letter topic.
type DeadLetters struct {
	w *kafka.Writer
}

// NewDeadLetters returns a DeadLetters for the topic.
func NewDeadLetters(c Cluster, topic string) *DeadLetters {
	return &DeadLetters{w: newKafkaWriter(c, topic)}
}

// Send parks m in the dead-letter topic with the reason (see package deadletter) and returns once
// every in-sync replica has it.
func (d *DeadLetters) Send(ctx context.Context, m message.Message, reason error) error {
	dead := deadletter.New(m, reason)
	err := d.w.WriteMessages(ctx, toKafka(dead))
	var tooLarge kafka.MessageTooLargeError
	if errors.As(err, &tooLarge) || errors.Is(err, kafka.MessageSizeTooLarge) {
		// The copy can never be published, and retrying it would block the partition forever.
		// Park what identifies it instead: the headers point at the original in the source topic.
		err = d.w.WriteMessages(ctx, toKafka(deadletter.WithoutValue(dead)))
	}
	if err != nil {
		return fmt.Errorf("dead-letter %s: %w", m.At(), err)
	}
	return nil
}

// Close flushes and closes the connections, within ctx.
func (d *DeadLetters) Close(ctx context.Context) error {
	return closeWithin(ctx, "close dead-letter writer", d.w.Close)
}
