package broker

import (
	"github.com/segmentio/kafka-go"

	"github.com/ankitamadan/patient-profile/internal/message"
)

// toKafka is m as kafka-go writes it. Topic, partition and offset are the writer's to choose.
func toKafka(m message.Message) kafka.Message {
	return kafka.Message{Key: m.Key, Value: m.Value, Headers: toKafkaHeaders(m.Headers), Time: m.Time}
}

func toKafkaHeaders(hs []message.Header) []kafka.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]kafka.Header, len(hs))
	for i, h := range hs {
		out[i] = kafka.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// fromKafka is a fetched kafka-go message in the project's form. kafka-go gives each fetched
// message buffers of its own, so they are not copied.
func fromKafka(m kafka.Message) message.Message {
	return message.Message{
		Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, HighWaterMark: m.HighWaterMark,
		Key: m.Key, Value: m.Value, Headers: fromKafkaHeaders(m.Headers), Time: m.Time,
	}
}

func fromKafkaHeaders(hs []kafka.Header) []message.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]message.Header, len(hs))
	for i, h := range hs {
		out[i] = message.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// commitKafka is what kafka-go's CommitMessages reads of a message: where it is.
func commitKafka(msgs []message.Message) []kafka.Message {
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		out[i] = kafka.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	}
	return out
}
