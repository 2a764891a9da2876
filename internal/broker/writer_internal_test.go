package broker

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
)

// The zero-value kafka-go Writer promises nothing (acks none) and waits a second per request;
// these are the settings the guarantees rest on.
func TestWriterSettings(t *testing.T) {
	for name, w := range map[string]*kafka.Writer{
		"writer":       NewWriter(Cluster{Brokers: []string{"localhost:9092"}}, "t").w,
		"publisher":    NewPublisher(Cluster{Brokers: []string{"localhost:9092"}}, "t", "/test").w,
		"dead letters": NewDeadLetters(Cluster{Brokers: []string{"localhost:9092"}}, "t").w,
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, kafka.RequireAll, w.RequiredAcks)
			assert.Less(t, w.BatchTimeout, 10*time.Millisecond)
			assert.False(t, w.AllowAutoTopicCreation)
			assert.False(t, w.Async)
			assert.Equal(t, partitioner, w.Balancer)
		})
	}
}
