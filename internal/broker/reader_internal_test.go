package broker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ankitamadan/patient-profile/internal/message"
)

func TestOwesEveryMember(t *testing.T) {
	members := func(n int) []Member { return make([]Member, n) }
	partitions := func(n int) []GroupPartition { return make([]GroupPartition, n) }
	tests := []struct {
		name string
		g    Group
		want bool
	}{
		{"stable, fewer members than partitions", Group{State: "Stable", Members: members(2), Partitions: partitions(6)}, true},
		{"stable, as many members as partitions", Group{State: "Stable", Members: members(6), Partitions: partitions(6)}, true},
		{"stable, more members than partitions: some hold none", Group{State: "Stable", Members: members(7),
			Partitions: partitions(6)}, false},
		{"rebalancing", Group{State: "PreparingRebalance", Members: members(2), Partitions: partitions(6)}, false},
		{"no member", Group{State: "Empty", Partitions: partitions(6)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, owesEveryMember(tt.g))
		})
	}
}

// stuckReader is a kafka-go group reader as it is left when its partition readers are gone: it
// fetches nothing, forever. With value set it is a healthy one that has that message.
type stuckReader struct {
	value   string
	fetches int64 // what Stats reports: requests its partition readers sent
	closed  atomic.Bool
}

func (s *stuckReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	if s.value != "" {
		return kafka.Message{Topic: "t", Value: []byte(s.value)}, nil
	}
	<-ctx.Done()
	return kafka.Message{}, ctx.Err()
}

func (s *stuckReader) CommitMessages(context.Context, ...kafka.Message) error { return nil }

func (s *stuckReader) Stats() kafka.ReaderStats { return kafka.ReaderStats{Fetches: s.fetches} }

func (s *stuckReader) Close() error {
	s.closed.Store(true)
	return nil
}

// A member that holds partitions but fetches nothing waits forever in kafka-go; Fetch joins
// again instead, and only then.
func TestFetchReplacesAStalledGroupReader(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "t"))
	require.NoError(t, err)
	defer c.Close()

	stable := Group{State: "Stable", Members: make([]Member, 2), Partitions: make([]GroupPartition, 6)}
	crowded := Group{State: "Stable", Members: make([]Member, 7), Partitions: make([]GroupPartition, 6)}
	tests := []struct {
		name     string
		first    *stuckReader
		group    Group
		groupErr error
		replaced bool
	}{
		{"no partition reader, the group owes it some", &stuckReader{}, stable, nil, true},
		{"its partition readers fetch: the topic is quiet", &stuckReader{fetches: 3}, stable, nil, false},
		{"more members than partitions: it may hold none", &stuckReader{}, crowded, nil, false},
		{"the broker cannot describe the group", &stuckReader{}, stable, errors.New("unreachable"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			joins := 0
			r := NewReader(ReaderConfig{Cluster: Cluster{Brokers: c.ListenAddrs()}, Topic: "t", Group: "g",
				StallCheck: 50 * time.Millisecond})
			r.join = func(ReaderConfig) groupReader {
				joins++
				if joins == 1 {
					return tt.first
				}
				return &stuckReader{value: "after joining again"}
			}
			r.describe = func(context.Context) (Group, error) { return tt.group, tt.groupErr }

			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			m, err := r.Fetch(ctx)
			if tt.replaced {
				require.NoError(t, err)
				assert.Equal(t, "after joining again", string(m.Value))
				assert.True(t, tt.first.closed.Load(), "the stalled reader left the group")
				assert.Equal(t, 2, joins)
			} else {
				assert.ErrorIs(t, err, context.DeadlineExceeded, "Fetch waits as long as its caller says")
				assert.False(t, tt.first.closed.Load())
				assert.Equal(t, 1, joins)
			}
		})
	}
}

// Joining again with a new kafka-go reader in the middle of a topic loses nothing: what was not
// committed is read again.
func TestReplacedReaderLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a broker")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "t"))
	require.NoError(t, err)
	defer c.Close()
	cluster := Cluster{Brokers: c.ListenAddrs()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := NewWriter(cluster, "t")
	defer func() { _ = w.Close(context.Background()) }()
	const n = 60
	var msgs []message.Message
	for i := range n {
		msgs = append(msgs, message.Message{Key: []byte(fmt.Sprint("k", i)), Value: []byte(fmt.Sprint(i))})
	}
	require.NoError(t, w.Write(ctx, msgs...))

	r := NewReader(ReaderConfig{Cluster: cluster, Topic: "t", Group: "g", SessionTimeout: 6 * time.Second})
	defer func() { _ = r.Close(context.Background()) }()
	seen := map[string]bool{}
	for range n / 3 {
		m, err := r.Fetch(ctx)
		require.NoError(t, err)
		require.NoError(t, r.Commit(ctx, m))
		seen[string(m.Value)] = true
	}
	r.mu.Lock()
	first := r.r
	r.mu.Unlock()
	r.replace(ctx, first)

	for len(seen) < n {
		m, err := r.Fetch(ctx)
		require.NoError(t, err, "after %d of %d", len(seen), n)
		require.NoError(t, r.Commit(ctx, m))
		seen[string(m.Value)] = true
	}
	assert.Len(t, seen, n)
}
