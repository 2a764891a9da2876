package devenv_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
)

// A consumer that joins the group and dies before the rebalance completes must not keep
// partitions: Kafka expires a member that neither syncs nor heartbeats within its session
// timeout, and so must the embedded broker, or a crash loop leaves partitions that nobody
// consumes for ever (issue 6). The survivor is the project's own Reader.
//
// Whether kfake as published loses the session timer of one such member is a coin toss: it
// replies with a select between a buffered channel and the closed connection's done channel. So
// the test kills 16 members in one rebalance; without the fix in third_party/kfake it passes
// only if every toss goes the member's way, 1 run in 2^16.
func TestBrokerExpiresMembersThatDieBeforeTheRebalanceCompletes(t *testing.T) {
	devenvtest.SkipIfShort(t)
	const (
		topic, group  = "crash-loop", "crash-loop"
		partitions    = 6
		doomed        = 16
		doomedSession = time.Second
		// kfake keeps counting a member's session while it waits in JoinGroup, where the test
		// holds the survivor for a moment: give it room.
		survivorSession = 3 * time.Second
		// Longer than the test waits: if the dead members outlive their sessions, the next
		// rebalance could only drop them after this, too late to hide the bug.
		doomedRebalance = time.Minute
		margin          = 4 * time.Second
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cluster, err := devenv.StartKafka(0, "")
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	addr := cluster.ListenAddrs()[0]
	require.NoError(t, broker.CreateTopics(ctx, broker.Cluster{Brokers: []string{addr}}, partitions, topic))

	survivor := broker.NewReader(broker.ReaderConfig{Cluster: broker.Cluster{Brokers: []string{addr}},
		Topic: topic, Group: group, SessionTimeout: survivorSession})
	t.Cleanup(func() { _ = survivor.Close(context.Background()) })
	// The Reader joins the group on its first fetch; nothing is published, so the fetch waits.
	go func() {
		for ctx.Err() == nil {
			_, _ = survivor.Fetch(ctx)
		}
	}()

	ownsAll := func(members [][]int) bool { return len(members) == 1 && len(members[0]) == partitions }
	require.Eventually(t, func() bool {
		members, err := broker.Assignments(ctx, broker.Cluster{Brokers: []string{addr}}, group, topic)
		return err == nil && ownsAll(members)
	}, 10*time.Second, 50*time.Millisecond, "the survivor never owned the topic alone")

	// Hold the survivor's rejoin (the only JoinGroup with a member id) until the doomed members'
	// connections are gone, so that the rebalance completes with them dead in it, as when
	// consumers are killed mid-rebalance.
	rejoining, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cluster.ControlKey(int16(kmsg.JoinGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if req.(*kmsg.JoinGroupRequest).MemberID != "" {
			once.Do(func() { close(rejoining) })
			cluster.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})

	conns := make([]net.Conn, doomed)
	for i := range conns {
		conns[i], err = net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = conns[i].Write(joinGroup(group, topic, doomedSession, doomedRebalance))
		require.NoError(t, err)
	}
	select {
	case <-rejoining:
	case <-time.After(10 * time.Second):
		t.Fatal("the survivor never rejoined")
	}
	require.Eventually(t, func() bool {
		members, err := broker.Assignments(ctx, broker.Cluster{Brokers: []string{addr}}, group, topic)
		return err == nil && len(members) == doomed+1
	}, 10*time.Second, 20*time.Millisecond, "the doomed members never joined")
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
	// Let the broker see the connections close before it replies on them.
	time.Sleep(200 * time.Millisecond)
	close(release)

	var last [][]int
	owned := assert.Eventually(t, func() bool {
		members, err := broker.Assignments(ctx, broker.Cluster{Brokers: []string{addr}}, group, topic)
		last = members
		return err == nil && ownsAll(members)
	}, doomedSession+margin, 50*time.Millisecond)
	if !owned {
		t.Errorf("got %d members holding %v, want the survivor alone with all %d partitions: dead members were not expired", len(last), last, partitions)
	}
}

// joinGroup is a JoinGroup request as a new consumer sends it, framed for the wire. Version 2
// joins at once, without the MEMBER_ID_REQUIRED round trip of version 4 and later.
func joinGroup(group, topic string, session, rebalance time.Duration) []byte {
	meta := kmsg.ConsumerMemberMetadata{Topics: []string{topic}}
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 2
	req.Group = group
	req.SessionTimeoutMillis = int32(session.Milliseconds())
	req.RebalanceTimeoutMillis = int32(rebalance.Milliseconds())
	req.ProtocolType = "consumer"
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID("doomed")).AppendRequest(nil, req, 1)
}
