package console

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// fakeKafka is a cluster of topics held in memory, each partition a slice from offset 0; it counts
// the calls that ask the broker for offsets, as polls.
type fakeKafka struct {
	mu     sync.Mutex
	topics map[string][][]message.Message
	group  broker.Group
	// polls counts Topics and DescribeGroup calls; read counts messages read.
	polls, read atomic.Int64
}

func newFakeKafka(partitions int, names ...string) *fakeKafka {
	k := &fakeKafka{topics: map[string][][]message.Message{}}
	for _, n := range names {
		k.topics[n] = make([][]message.Message, partitions)
	}
	return k
}

// add appends m to the partition murmur2 puts its key on, and returns it as stored.
func (k *fakeKafka) add(topic string, m message.Message) message.Message {
	k.mu.Lock()
	defer k.mu.Unlock()
	parts := k.topics[topic]
	m.Topic, m.Partition = topic, broker.PartitionOf(m.Key, len(parts))
	m.Offset = int64(len(parts[m.Partition]))
	parts[m.Partition] = append(parts[m.Partition], m)
	return m
}

func (k *fakeKafka) Topics(_ context.Context, names ...string) ([]broker.Topic, error) {
	k.polls.Add(1)
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []broker.Topic
	for _, n := range names {
		parts, ok := k.topics[n]
		if !ok {
			return nil, broker.ErrUnknownTopic
		}
		t := broker.Topic{Name: n}
		for i, p := range parts {
			t.Partitions = append(t.Partitions, broker.Partition{ID: i, End: int64(len(p))})
		}
		out = append(out, t)
	}
	return out, nil
}

func (k *fakeKafka) DescribeGroup(context.Context, string, string) (broker.Group, error) {
	k.polls.Add(1)
	return k.group, nil
}

func (k *fakeKafka) ReadRange(ctx context.Context, topic string, partition int, from, to int64) ([]message.Message,
	error) {
	var out []message.Message
	err := k.ReadPartition(ctx, topic, partition, from, to, func(m message.Message) error {
		out = append(out, m)
		return nil
	})
	return out, err
}

func (k *fakeKafka) ReadPartition(_ context.Context, topic string, partition int, from, to int64,
	fn func(message.Message) error) error {
	k.mu.Lock()
	msgs := slices.Clone(k.topics[topic][partition][from:to])
	k.mu.Unlock()
	for _, m := range msgs {
		k.read.Add(1)
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// fakeTable is the replica: rows by patient, paged in id order.
type fakeTable struct {
	rows map[string]profile.Event
}

func (f fakeTable) Get(_ context.Context, id string) (profile.Event, bool, error) {
	e, ok := f.rows[id]
	return e, ok, nil
}

func (f fakeTable) Page(_ context.Context, limit int, after string) ([]profile.Event, string, error) {
	var ids []string
	for id := range f.rows {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	next := ""
	if len(ids) > limit {
		ids, next = ids[:limit], ids[limit-1]
	}
	var out []profile.Event
	for _, id := range ids {
		out = append(out, f.rows[id])
	}
	return out, next, nil
}

// fakePublisher records what a replay publishes.
type fakePublisher struct {
	mu   sync.Mutex
	sent []message.Message
}

func (p *fakePublisher) Write(_ context.Context, msgs ...message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, msgs...)
	return nil
}
