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
)

// ReadTopic calls fn with every message of topic, partition by partition and in offset order,
// from the oldest message each partition still has to the end it had when ReadTopic started.
// Messages published meanwhile are left for a later read, so a reader that itself causes
// messages to be published to the topic (a replay that fails again) still comes to an end.
//
// It joins no consumer group and commits nothing: it can run any number of times, alongside
// anything else, and each run sees the whole topic. An error from fn stops it and is returned.
func ReadTopic(ctx context.Context, c Cluster, topic string, fn func(kafka.Message) error) error {
	t := c.transport(5*time.Second, time.Minute)
	defer t.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: 10 * time.Second, Transport: t}

	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("read %s: metadata: %w", topic, err)
	}
	i := slices.IndexFunc(md.Topics, func(t kafka.Topic) bool { return t.Name == topic })
	switch {
	case i < 0:
		return fmt.Errorf("read %s: topic not found", topic)
	case md.Topics[i].Error != nil:
		return fmt.Errorf("read %s: %w", topic, md.Topics[i].Error)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[i].Partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return fmt.Errorf("read %s: list offsets: %w", topic, err)
	}
	parts := offs.Topics[topic]
	slices.SortFunc(parts, func(a, b kafka.PartitionOffsets) int { return a.Partition - b.Partition })
	for _, p := range parts {
		if p.Error != nil {
			return fmt.Errorf("read %s/%d: list offsets: %w", topic, p.Partition, p.Error)
		}
		if err := readPartition(ctx, client, topic, p.Partition, p.FirstOffset, p.LastOffset, fn); err != nil {
			return err
		}
	}
	return nil
}

// readPartition reads [from, end) of one partition.
func readPartition(ctx context.Context, client *kafka.Client, topic string, partition int, from, end int64, fn func(kafka.Message) error) error {
	for next := from; next < end; {
		res, err := client.Fetch(ctx, &kafka.FetchRequest{
			Topic: topic, Partition: partition, Offset: next,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 500 * time.Millisecond,
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
			// A fetch can start with the batch that holds next, so with offsets before it.
			if r.Offset < next || r.Offset >= end {
				continue
			}
			m, err := message(topic, partition, r)
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

func message(topic string, partition int, r *kafka.Record) (kafka.Message, error) {
	key, err := protocol.ReadAll(r.Key)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("key: %w", err)
	}
	value, err := protocol.ReadAll(r.Value)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("value: %w", err)
	}
	return kafka.Message{
		Topic: topic, Partition: partition, Offset: r.Offset, Time: r.Time,
		Key: key, Value: value, Headers: slices.Clone(r.Headers),
	}, nil
}
