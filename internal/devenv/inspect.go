package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// Lag is how many messages of topic the group has not committed yet, over all partitions.
func Lag(ctx context.Context, brokers []string, group, topic string) (int64, error) {
	committed, end, err := GroupOffsets(ctx, brokers, group, topic)
	return end - committed, err
}

// GroupOffsets returns, summed over the partitions of topic, the group's committed offsets and
// the partitions' end offsets.
func GroupOffsets(ctx context.Context, brokers []string, group, topic string) (committed, end int64, err error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
	parts, err := partitions(ctx, client, topic)
	if err != nil {
		return 0, 0, err
	}
	var reqs []kafka.OffsetRequest
	for _, p := range parts {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return 0, 0, fmt.Errorf("list offsets: %w", err)
	}
	offs, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
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

// Assignments returns, per member of the group, the partitions of topic it holds.
func Assignments(ctx context.Context, brokers []string, group, topic string) ([][]int, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
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

func partitions(ctx context.Context, client *kafka.Client, topic string) ([]int, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return nil, fmt.Errorf("metadata %s: %w", topic, t.Error)
			}
			var ps []int
			for _, p := range t.Partitions {
				ps = append(ps, p.ID)
			}
			return ps, nil
		}
	}
	return nil, fmt.Errorf("metadata: no topic %s", topic)
}

// ReadAll reads every message in topic, from the start of each partition to its current end.
func ReadAll(ctx context.Context, brokers []string, topic string) ([]kafka.Message, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
	parts, err := partitions(ctx, client, topic)
	if err != nil {
		return nil, err
	}
	var out []kafka.Message
	for _, p := range parts {
		ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p)}}})
		if err != nil {
			return nil, fmt.Errorf("list offsets: %w", err)
		}
		po := ends.Topics[topic][0]
		if po.LastOffset <= po.FirstOffset {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		r.SetOffset(po.FirstOffset)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("read %s/%d: %w", topic, p, err)
			}
			out = append(out, m)
			if m.Offset >= po.LastOffset-1 {
				break
			}
		}
		if err := r.Close(); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	}
	return out, nil
}

// WaitNoLag waits until the group has committed every message of the topic. It fails at once if
// one of procs exits by itself (the consumers meant to do the work), and after within.
func (s *Stack) WaitNoLag(ctx context.Context, within time.Duration, procs ...*Process) error {
	deadline := time.Now().Add(within)
	for {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		lag, err := Lag(lctx, s.Brokers, s.Group, s.Topic)
		cancel()
		if err == nil && lag == 0 {
			return nil
		}
		for _, p := range procs {
			if p.Exited() {
				return fmt.Errorf("%s exited by itself: %v", p.Name, p.Wait(0))
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the group still has lag %d (err %v) after %s", lag, err, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
