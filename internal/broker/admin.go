package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// CreateTopics creates each topic with the given number of partitions, replicated as far as the
// cluster allows up to three copies. A topic that exists already is left as it is.
func CreateTopics(ctx context.Context, c Cluster, partitions int, topics ...string) error {
	client, done := c.client(5*time.Second, 30*time.Second)
	defer done()
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		return fmt.Errorf("create topics: metadata: %w", err)
	}
	replicas := min(3, max(1, len(md.Brokers)))
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics,
			kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: replicas})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics %v: %w", topics, err)
	}
	var errs []error
	for _, t := range topics {
		if err := resp.Errors[t]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

// GroupOffsets returns, summed over the partitions of topic, the group's committed offsets and
// the partitions' end offsets: their difference is the group's lag.
func GroupOffsets(ctx context.Context, c Cluster, group, topic string) (committed, end int64, err error) {
	client, done := c.client(5*time.Second, 5*time.Second)
	defer done()
	parts, err := partitions(ctx, client, topic)
	if err != nil {
		return 0, 0, err
	}
	var reqs []kafka.OffsetRequest
	for _, p := range parts {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	ends, err := client.ListOffsets(ctx,
		&kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return 0, 0, fmt.Errorf("list offsets: %w", err)
	}
	offs, err := client.OffsetFetch(ctx,
		&kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return 0, 0, fmt.Errorf("offset fetch: %w", err)
	}
	if offs.Error != nil {
		return 0, 0, fmt.Errorf("offset fetch: %w", offs.Error)
	}
	for _, p := range offs.Topics[topic] {
		if p.Error != nil {
			return 0, 0, fmt.Errorf("offset fetch partition %d: %w", p.Partition, p.Error)
		}
		committed += max(p.CommittedOffset, 0)
	}
	for _, p := range ends.Topics[topic] {
		if p.Error != nil {
			return 0, 0, fmt.Errorf("list offsets partition %d: %w", p.Partition, p.Error)
		}
		end += p.LastOffset
	}
	return committed, end, nil
}

// Lag is how many messages of topic the group has not committed yet, over all partitions.
func Lag(ctx context.Context, c Cluster, group, topic string) (int64, error) {
	committed, end, err := GroupOffsets(ctx, c, group, topic)
	return end - committed, err
}

// Assignments returns, per member of the group, the partitions of topic it holds.
func Assignments(ctx context.Context, c Cluster, group, topic string) ([][]int, error) {
	client, done := c.client(5*time.Second, 5*time.Second)
	defer done()
	resp, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return nil, fmt.Errorf("describe group: %w", err)
	}
	var out [][]int
	for _, g := range resp.Groups {
		if g.Error != nil {
			return nil, fmt.Errorf("describe group: %w", g.Error)
		}
		for _, m := range g.Members {
			var ps []int
			for _, t := range m.MemberAssignments.Topics {
				if t.Topic == topic {
					ps = append(ps, t.Partitions...)
				}
			}
			slices.Sort(ps)
			out = append(out, ps)
		}
	}
	return out, nil
}
