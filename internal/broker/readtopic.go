package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/ankitamadan/patient-profile/internal/message"
)

// ReadTopic calls fn with every message of topic, partition by partition and in offset order,
// from the oldest message each partition still has to the end it had when ReadTopic started.
// Messages published meanwhile are left for a later read, so a reader that itself causes
// messages to be published to the topic (a replay that fails again) still comes to an end.
//
// It joins no consumer group and commits nothing: it can run any number of times, alongside
// anything else, and each run sees the whole topic. An error from fn stops it and is returned.
func ReadTopic(ctx context.Context, c Cluster, topic string, fn func(message.Message) error) error {
	client, done := c.client(5*time.Second, 10*time.Second)
	defer done()
	ids, err := partitions(ctx, client, topic)
	if err != nil {
		return fmt.Errorf("read %s: %w", topic, err)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range ids {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	offs, err := client.ListOffsets(ctx,
		&kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return fmt.Errorf("read %s: list offsets: %w", topic, err)
	}
	parts := offs.Topics[topic]
	slices.SortFunc(parts, func(a, b kafka.PartitionOffsets) int { return a.Partition - b.Partition })
	for _, p := range parts {
		if p.Error != nil {
			return fmt.Errorf("read %s/%d: list offsets: %w", topic, p.Partition, p.Error)
		}
		err := readPartition(ctx, client, topic, p.Partition, p.FirstOffset, p.LastOffset, 10<<20, fn)
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadAll returns every message of topic, as ReadTopic reads them.
func ReadAll(ctx context.Context, c Cluster, topic string) ([]message.Message, error) {
	var out []message.Message
	err := ReadTopic(ctx, c, topic, func(m message.Message) error {
		out = append(out, m)
		return nil
	})
	return out, err
}

// readPartition reads [from, end) of one partition, asking for maxBytes in each fetch.
func readPartition(ctx context.Context, client *kafka.Client, topic string, partition int, from, end int64,
	maxBytes int64, fn func(message.Message) error) error {
	for next := from; next < end; {
		res, err := client.Fetch(ctx, &kafka.FetchRequest{
			Topic: topic, Partition: partition, Offset: next,
			MinBytes: 1, MaxBytes: maxBytes, MaxWait: 500 * time.Millisecond,
		})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			return fmt.Errorf("read %s/%d at %d: %w", topic, partition, next, err)
		}
		read := 0
		for {
			r, err := res.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("read %s/%d at %d: %w", topic, partition, next, err)
			}
			// A fetch can start with the batch that holds next, so with offsets before it; what
			// follows end is not asked for.
			if r.Offset >= end {
				return nil
			}
			if r.Offset < next {
				continue
			}
			m, err := record(topic, partition, res.HighWatermark, r)
			if err != nil {
				return fmt.Errorf("read %s/%d/%d: %w", topic, partition, r.Offset, err)
			}
			if err := fn(m); err != nil {
				return err
			}
			next, read = r.Offset+1, read+1
		}
		if read == 0 {
			// Nothing readable below the end: what is left is transaction markers or offsets
			// removed by compaction, which hold no messages.
			return nil
		}
	}
	return nil
}

func record(topic string, partition int, high int64, r *kafka.Record) (message.Message, error) {
	key, err := protocol.ReadAll(r.Key)
	if err != nil {
		return message.Message{}, fmt.Errorf("key: %w", err)
	}
	value, err := protocol.ReadAll(r.Value)
	if err != nil {
		return message.Message{}, fmt.Errorf("value: %w", err)
	}
	return message.Message{
		Topic: topic, Partition: partition, Offset: r.Offset, HighWaterMark: high, Time: r.Time,
		Key: key, Value: value, Headers: fromKafkaHeaders(r.Headers),
	}, nil
}

// partitions lists the partition ids of topic.
func partitions(ctx context.Context, client *kafka.Client, topic string) ([]int, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	i := slices.IndexFunc(md.Topics, func(t kafka.Topic) bool { return t.Name == topic })
	switch {
	case i < 0:
		return nil, fmt.Errorf("topic %s not found", topic)
	case md.Topics[i].Error != nil:
		return nil, fmt.Errorf("topic %s: %w", topic, md.Topics[i].Error)
	}
	ids := make([]int, 0, len(md.Topics[i].Partitions))
	for _, p := range md.Topics[i].Partitions {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	return ids, nil
}
