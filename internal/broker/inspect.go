package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ankitamadan/patient-profile/internal/message"
)

// What the console reads of the cluster: offsets and group state, and one page of a partition at
// a time. None of it scans a topic, so each costs the same on a topic of a million messages as on
// an empty one.

// ErrUnknownTopic is a topic the cluster does not have; ErrUnknownPartition a partition the topic
// does not have.
var (
	ErrUnknownTopic     = errors.New("no such topic")
	ErrUnknownPartition = errors.New("no such partition")
)

// Partition is where a partition's messages start and end.
type Partition struct {
	ID int
	// First is the oldest offset the partition still has; End the high watermark, the offset
	// its next message will get. End - First messages are there (fewer on a compacted topic).
	First, End int64
}

// Topic is a topic and its partitions, by id.
type Topic struct {
	Name       string
	Partitions []Partition
}

// Messages is how many messages the topic holds, over all partitions.
func (t Topic) Messages() int64 {
	var n int64
	for _, p := range t.Partitions {
		n += p.End - p.First
	}
	return n
}

// Partition returns partition id of t, and whether there is one.
func (t Topic) Partition(id int) (Partition, bool) {
	i := slices.IndexFunc(t.Partitions, func(p Partition) bool { return p.ID == id })
	if i < 0 {
		return Partition{}, false
	}
	return t.Partitions[i], true
}

// Topics returns each topic with its partitions' first and end offsets: one metadata request and
// one ListOffsets. A topic the cluster lacks is an error that wraps ErrUnknownTopic.
func Topics(ctx context.Context, c Cluster, names ...string) ([]Topic, error) {
	client, done := c.client(3*time.Second, 5*time.Second)
	defer done()
	return topics(ctx, client, names)
}

func topics(ctx context.Context, client *kafka.Client, names []string) ([]Topic, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	reqs := map[string][]kafka.OffsetRequest{}
	for _, name := range names {
		i := slices.IndexFunc(md.Topics, func(t kafka.Topic) bool { return t.Name == name })
		switch {
		case i < 0, errors.Is(md.Topics[i].Error, kafka.UnknownTopicOrPartition):
			return nil, fmt.Errorf("topic %s: %w", name, ErrUnknownTopic)
		case md.Topics[i].Error != nil:
			return nil, fmt.Errorf("topic %s: %w", name, md.Topics[i].Error)
		}
		for _, p := range md.Topics[i].Partitions {
			reqs[name] = append(reqs[name], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: reqs})
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	out := make([]Topic, 0, len(names))
	for _, name := range names {
		t := Topic{Name: name}
		for _, p := range offs.Topics[name] {
			if p.Error != nil {
				return nil, fmt.Errorf("list offsets %s/%d: %w", name, p.Partition, p.Error)
			}
			t.Partitions = append(t.Partitions, Partition{ID: p.Partition, First: p.FirstOffset, End: p.LastOffset})
		}
		slices.SortFunc(t.Partitions, func(a, b Partition) int { return a.ID - b.ID })
		out = append(out, t)
	}
	return out, nil
}

// Group is a consumer group as the broker describes it, for one topic.
type Group struct {
	ID string
	// State is the broker's word: Stable, PreparingRebalance, CompletingRebalance, Empty or Dead.
	State   string
	Members []Member
	// Partitions are the topic's, in order, each with the group's committed offset.
	Partitions []GroupPartition
}

// Member is one member of a group and the partitions of the topic it holds.
type Member struct {
	ID, ClientID, Host string
	Partitions         []int
}

// GroupPartition is the group's position on one partition.
type GroupPartition struct {
	Partition
	// Committed is the offset the group resumes from; -1 when it has committed none.
	Committed int64
	// Member is the id of the member that holds it, empty when none does.
	Member string
}

// Lag is how many messages of the partition the group has not committed: from its committed
// offset, or from the first offset when it has committed none.
func (p GroupPartition) Lag() int64 {
	from := p.Committed
	if from < p.First {
		from = p.First
	}
	return max(p.End-from, 0)
}

// DescribeGroup returns the group's state, members and assignment, and its committed offset on
// each partition of topic beside the partition's offsets: one metadata request, one ListOffsets,
// one DescribeGroups and one OffsetFetch.
func DescribeGroup(ctx context.Context, c Cluster, group, topic string) (Group, error) {
	client, done := c.client(3*time.Second, 5*time.Second)
	defer done()
	g := Group{ID: group}
	ts, err := topics(ctx, client, []string{topic})
	if err != nil {
		return g, err
	}
	desc, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return g, fmt.Errorf("describe group %s: %w", group, err)
	}
	holder := map[int]string{}
	for _, dg := range desc.Groups {
		if errors.Is(dg.Error, kafka.GroupIdNotFound) {
			continue // a group that never committed: no state, no member
		}
		if dg.Error != nil {
			return g, fmt.Errorf("describe group %s: %w", group, dg.Error)
		}
		g.State = dg.GroupState
		for _, m := range dg.Members {
			member := Member{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
			for _, t := range m.MemberAssignments.Topics {
				if t.Topic == topic {
					member.Partitions = append(member.Partitions, t.Partitions...)
				}
			}
			slices.Sort(member.Partitions)
			for _, p := range member.Partitions {
				holder[p] = m.MemberID
			}
			g.Members = append(g.Members, member)
		}
	}
	ids := make([]int, 0, len(ts[0].Partitions))
	for _, p := range ts[0].Partitions {
		ids = append(ids, p.ID)
	}
	offs, err := client.OffsetFetch(ctx,
		&kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err == nil {
		err = offs.Error
	}
	// Kafka answers a group it does not know with no offsets; some brokers (kfake) with an error.
	if errors.Is(err, kafka.GroupIdNotFound) {
		err, offs = nil, &kafka.OffsetFetchResponse{}
	}
	if err != nil {
		return g, fmt.Errorf("offset fetch %s: %w", group, err)
	}
	committed := map[int]int64{}
	for _, p := range offs.Topics[topic] {
		if p.Error != nil {
			return g, fmt.Errorf("offset fetch %s partition %d: %w", group, p.Partition, p.Error)
		}
		committed[p.Partition] = p.CommittedOffset
	}
	for _, p := range ts[0].Partitions {
		c, ok := committed[p.ID]
		if !ok || c < 0 {
			c = -1
		}
		g.Partitions = append(g.Partitions, GroupPartition{Partition: p, Committed: c, Member: holder[p.ID]})
	}
	return g, nil
}

// MaxRange is the most messages ReadRange reads in one call: a page, never a scan.
const MaxRange = 100

// ReadRange returns the messages of one partition from offset from up to, not including, to, in
// offset order. The range must lie within the partition (Topics says where it starts and ends)
// and hold at most MaxRange offsets. Fewer messages come back where a compacted topic has
// removed some.
func ReadRange(ctx context.Context, c Cluster, topic string, partition int, from, to int64) ([]message.Message, error) {
	if from < 0 || to < from || to-from > MaxRange {
		return nil, fmt.Errorf("read %s/%d: range [%d, %d) is not within 0 to %d offsets", topic, partition, from, to,
			MaxRange)
	}
	var out []message.Message
	err := ReadPartition(ctx, c, topic, partition, from, to, func(m message.Message) error {
		out = append(out, m)
		return nil
	})
	return out, err
}

// ReadPartition calls fn with each message of one partition from offset from up to, not
// including, to, in offset order: a bounded read, for a caller that has chosen its bound (the
// console's timeline reads the newest thousand of a partition). An error from fn stops it.
func ReadPartition(ctx context.Context, c Cluster, topic string, partition int, from, to int64,
	fn func(message.Message) error) error {
	client, done := c.client(3*time.Second, 10*time.Second)
	defer done()
	// Little more than a page per fetch: a fetch returns whole batches from the offset on, and
	// with megabytes it would decode thousands of messages past a page.
	return readPartition(ctx, client, topic, partition, from, to, pageBytes, fn)
}

// pageBytes is what one fetch of a bounded read asks for.
const pageBytes = 256 << 10

// Inspector is the read-only view of the cluster the console takes: these functions, on one
// Cluster.
type Inspector struct {
	Cluster Cluster
}

// Topics is the package's Topics on the Inspector's cluster.
func (i Inspector) Topics(ctx context.Context, names ...string) ([]Topic, error) {
	return Topics(ctx, i.Cluster, names...)
}

// DescribeGroup is the package's DescribeGroup on the Inspector's cluster.
func (i Inspector) DescribeGroup(ctx context.Context, group, topic string) (Group, error) {
	return DescribeGroup(ctx, i.Cluster, group, topic)
}

// ReadPartition is the package's ReadPartition on the Inspector's cluster.
func (i Inspector) ReadPartition(ctx context.Context, topic string, partition int, from, to int64,
	fn func(message.Message) error) error {
	return ReadPartition(ctx, i.Cluster, topic, partition, from, to, fn)
}

// ReadRange is the package's ReadRange on the Inspector's cluster.
func (i Inspector) ReadRange(ctx context.Context, topic string, partition int, from, to int64) ([]message.Message,
	error) {
	return ReadRange(ctx, i.Cluster, topic, partition, from, to)
}
