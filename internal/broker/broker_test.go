package broker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// Other producers of the topic use their client's default partitioner. The Java clients' (and
// franz-go's, and librdkafka's murmur2_random) is murmur2: a patient must land on the same
// partition whoever publishes, or its events lose their order in Kafka.
func TestPartitionOfPlacesKeysLikeTheJavaClients(t *testing.T) {
	java := kgo.StickyKeyPartitioner(nil).ForTopic("t") // franz-go's murmur2, written to match Java's
	for _, n := range []int{1, 6, 12, 50} {
		for i := range 500 {
			key := []byte(fmt.Sprintf("patient-%d", i))
			assert.Equal(t, java.Partition(&kgo.Record{Key: key}, n), broker.PartitionOf(key, n), "key %q over %d partitions", key, n)
		}
	}
}

func TestPing(t *testing.T) {
	devenvtest.SkipIfShort(t)
	// A broker that creates topics on demand, as Apache Kafka does by default.
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.SeedTopics(1, "present"))
	require.NoError(t, err)
	defer c.Close()
	cluster := broker.Cluster{Brokers: c.ListenAddrs()}
	ctx := context.Background()

	assert.NoError(t, broker.NewPinger(cluster, "present").Ping(ctx))

	missing := broker.NewPinger(cluster, "mistyped", "present", "dlq-mistyped")
	assert.EqualError(t, missing.Ping(ctx), "kafka topic mistyped: not found; kafka topic dlq-mistyped: not found", "every missing topic, by name")
	assert.ErrorContains(t, missing.Ping(ctx), "mistyped", "the first ping must not have created the topic")

	c.Close()
	assert.Error(t, broker.NewPinger(cluster, "present").Ping(ctx), "a stopped broker is not ready")
}

func TestDeadLetters(t *testing.T) {
	devenvtest.SkipIfShort(t)
	tests := []struct {
		name        string
		value       []byte
		wantValue   []byte
		wantDropped string
	}{
		{"the copy keeps the value", []byte("not json"), []byte("not json"), ""},
		{"a value too large to publish is left out, not retried forever", make([]byte, 2<<20), nil, "2097152"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "dlq"))
			require.NoError(t, err)
			defer c.Close()
			cluster := broker.Cluster{Brokers: c.ListenAddrs()}
			dl := broker.NewDeadLetters(cluster, "dlq")
			defer dl.Close(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			src := message.Message{Topic: "events", Partition: 4, Offset: 77, Key: []byte("p1"), Value: tt.value,
				Headers: []message.Header{{Key: "trace", Value: []byte("abc")}}}
			require.NoError(t, dl.Send(ctx, src, errors.New("decode event: PatientId: missing or empty")))

			parked, err := broker.ReadAll(ctx, cluster, "dlq")
			require.NoError(t, err)
			require.Len(t, parked, 1)
			got := parked[0]
			headers := map[string]string{}
			for _, h := range got.Headers {
				headers[h.Key] = string(h.Value)
			}
			assert.Equal(t, "p1", string(got.Key))
			assert.Equal(t, tt.wantValue, got.Value)
			assert.Equal(t, tt.wantDropped, headers[deadletter.HeaderValueDropped])
			delete(headers, deadletter.HeaderValueDropped)
			assert.Equal(t, map[string]string{
				"trace": "abc", deadletter.HeaderError: "decode event: PatientId: missing or empty",
				deadletter.HeaderTopic: "events", deadletter.HeaderPartition: "4", deadletter.HeaderOffset: "77",
			}, headers)
		})
	}
}

func TestReadTopic(t *testing.T) {
	devenvtest.SkipIfShort(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "t", "empty"))
	require.NoError(t, err)
	defer c.Close()
	cluster := broker.Cluster{Brokers: c.ListenAddrs()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	w := broker.NewWriter(cluster, "t")
	defer w.Close(context.Background())
	var sent []message.Message
	for i := range 40 {
		m := message.Message{Key: []byte(fmt.Sprint("p", i%7)), Value: []byte(fmt.Sprint("v", i)),
			Headers: []message.Header{{Key: "n", Value: []byte(fmt.Sprint(i))}}}
		if i == 5 {
			m.Value = nil
		}
		sent = append(sent, m)
	}
	require.NoError(t, w.Write(ctx, sent...))

	type seen struct{ key, value, header string }
	var got []seen
	last := map[int]int64{}
	published := false
	require.NoError(t, broker.ReadTopic(ctx, cluster, "t", func(m message.Message) error {
		if !published {
			// Published during the read: past the end the read started with, so not read.
			require.NoError(t, w.Write(ctx, message.Message{Key: []byte("p1"), Value: []byte("late")}, message.Message{Key: []byte("p2"), Value: []byte("late")}))
			published = true
		}
		assert.Equal(t, "t", m.Topic)
		if prev, ok := last[m.Partition]; ok {
			assert.Equal(t, prev+1, m.Offset, "partition %d in offset order, with no gap", m.Partition)
		}
		last[m.Partition] = m.Offset
		require.Len(t, m.Headers, 1)
		if string(m.Headers[0].Value) == "5" {
			assert.Nil(t, m.Value, "a null value stays null")
		}
		got = append(got, seen{string(m.Key), string(m.Value), string(m.Headers[0].Value)})
		return nil
	}))
	var want []seen
	for _, m := range sent {
		want = append(want, seen{string(m.Key), string(m.Value), string(m.Headers[0].Value)})
	}
	assert.ElementsMatch(t, want, got)
	assert.Len(t, last, 3, "every partition was read")

	calls := 0
	require.NoError(t, broker.ReadTopic(ctx, cluster, "empty", func(message.Message) error { calls++; return nil }))
	assert.Zero(t, calls)

	stop := errors.New("stop")
	assert.ErrorIs(t, broker.ReadTopic(ctx, cluster, "t", func(message.Message) error { return stop }), stop)
	assert.ErrorContains(t, broker.ReadTopic(ctx, cluster, "missing", func(message.Message) error { return nil }), "missing")
}

// A Writer whose first metadata lookup failed must not keep that failure once the broker
// answers: kafka-go's Transport would serve it from its cache for up to MetadataTTL.
func TestWriterRecoversAtOnceFromAnOutageBeforeItsFirstWrite(t *testing.T) {
	devenvtest.SkipIfShort(t)
	tests := []struct {
		name    string
		publish func(ctx context.Context, c broker.Cluster) (closer, func() error)
	}{
		{"publisher", func(ctx context.Context, c broker.Cluster) (closer, func() error) {
			p := broker.NewPublisher(c, "t", "/patient-profile/test")
			return closer(p.Close), func() error {
				return p.Publish(ctx, profile.Event{EventID: "e1", PatientID: "p1", UpdatedAt: time.Now()})
			}
		}},
		{"dead letters", func(ctx context.Context, c broker.Cluster) (closer, func() error) {
			d := broker.NewDeadLetters(c, "t")
			return closer(d.Close), func() error {
				return d.Send(ctx, message.Message{Topic: "src", Key: []byte("p1")}, errors.New("poison"))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := devenvtest.FreePort(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			w, publish := tt.publish(ctx, broker.Cluster{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", port)}})
			defer func() { _ = w(context.Background()) }()
			require.Error(t, publish(), "no broker yet")

			c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(1, "t"))
			require.NoError(t, err)
			defer c.Close()
			assert.NoError(t, publish(), "the first write once the broker answers")
		})
	}
}

// closer is a Close that takes a context, as the publishers' do.
type closer func(context.Context) error

// brokerBehindProxies starts a broker with topic "t" of partitions and the Toxiproxy links to put
// in front of it; both stop with the test. It returns the address the broker advertises.
func brokerBehindProxies(t *testing.T, partitions int32) (string, *devenv.Faults) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, "t"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	faults := devenv.NewFaults()
	t.Cleanup(faults.Close)
	return c.ListenAddrs()[0], faults
}

// kfake, like any broker, advertises its own address in metadata, so a client that bootstraps
// through a proxy goes around it afterwards. With Redirect every connection takes the proxy: a
// black hole there stops the writes that bypass it otherwise.
func TestRedirectKeepsEveryConnectionOnTheMappedAddress(t *testing.T) {
	devenvtest.SkipIfShort(t)
	advertised, faults := brokerBehindProxies(t, 1)

	tests := []struct {
		name          string
		redirect      bool
		writesThrough bool // a write succeeds while the proxy swallows everything
	}{
		{"with Redirect, through the proxy", true, false},
		{"without, around it after the bootstrap", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			link, err := faults.Link(tt.name, advertised)
			require.NoError(t, err)
			cluster := broker.Cluster{Brokers: []string{link.Addr()}}
			if tt.redirect {
				cluster.Redirect = map[string]string{advertised: link.Addr()}
			}
			w := broker.NewWriter(cluster, "t")
			defer func() { _ = w.Close(context.Background()) }()
			write := func(d time.Duration) error {
				ctx, cancel := context.WithTimeout(context.Background(), d)
				defer cancel()
				return w.Write(ctx, message.Message{Key: []byte("p1"), Value: []byte("v")})
			}
			require.NoError(t, write(10*time.Second), "the first write, which bootstraps")

			require.NoError(t, link.Add(devenv.BlackHole(), devenv.Both...))
			err = write(time.Second)
			if tt.writesThrough {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err, "a write that went around the proxy")
			}
			link.Heal()
			assert.NoError(t, write(10*time.Second), "after the fault is healed")
		})
	}
}

// kafka-go hands a Reader's caller the error of a failed group join, and a connection the
// coordinator or a proxy hung up on fails with io.EOF: the same error kafka-go's Reader returns
// once it is closed. Only the Reader's own Close may end its caller's loop.
func TestReaderRidesOutConnectionsThatHangUp(t *testing.T) {
	devenvtest.SkipIfShort(t)
	advertised, faults := brokerBehindProxies(t, 2)
	link, err := faults.Link("reader", advertised)
	require.NoError(t, err)
	cluster := broker.Cluster{Brokers: []string{link.Addr()}, Redirect: map[string]string{advertised: link.Addr()}}
	r := broker.NewReader(broker.ReaderConfig{
		Cluster: cluster, Topic: "t", Group: "g", SessionTimeout: 6 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	})
	direct := broker.NewWriter(broker.Cluster{Brokers: []string{advertised}}, "t")
	defer func() { _ = direct.Close(context.Background()) }()
	publish := func(value string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, direct.Write(ctx, message.Message{Key: []byte("p1"), Value: []byte(value)}))
	}
	// fetchUntil fetches until want arrives or d passes, and returns the errors met on the way.
	fetchUntil := func(want string, d time.Duration) (got bool, errs []error) {
		for deadline := time.Now().Add(d); time.Now().Before(deadline); {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			m, err := r.Fetch(ctx)
			cancel()
			switch {
			case err == nil && string(m.Value) == want:
				return true, errs
			case err != nil && !errors.Is(err, context.DeadlineExceeded):
				errs = append(errs, err)
			}
		}
		return false, errs
	}

	publish("before")
	got, _ := fetchUntil("before", 30*time.Second)
	require.True(t, got, "the first message, through the healthy link")

	require.NoError(t, link.Add(devenv.HangUp(50), devenv.Both...))
	_, during := fetchUntil("never", 8*time.Second)
	link.Heal()
	publish("after")
	got, after := fetchUntil("after", time.Minute)

	for _, err := range append(during, after...) {
		assert.NotErrorIs(t, err, message.ErrClosed, "the Reader was never closed")
	}
	assert.True(t, got, "a message published after the link healed")
	assert.NotEmpty(t, during, "the fault reached the Reader's caller: the test tests something")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, r.Close(ctx))
	_, err = r.Fetch(context.Background())
	assert.ErrorIs(t, err, message.ErrClosed, "after Close")
}

// What the console reads: offsets and the group's state without reading a message, and a page of
// one partition.
func TestInspect(t *testing.T) {
	devenvtest.SkipIfShort(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "t", "dlq"),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	require.NoError(t, err)
	defer c.Close()
	cluster := broker.Cluster{Brokers: c.ListenAddrs()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	writeNumbered(ctx, t, cluster, 150)
	p := broker.PartitionOf([]byte("k"), 3)

	ts, err := broker.Topics(ctx, cluster, "t", "dlq")
	require.NoError(t, err)
	require.Len(t, ts, 2)
	assert.Equal(t, int64(150), ts[0].Messages())
	got, ok := ts[0].Partition(p)
	require.True(t, ok)
	assert.Equal(t, broker.Partition{ID: p, First: 0, End: 150}, got)
	assert.Zero(t, ts[1].Messages())
	_, err = broker.Topics(ctx, cluster, "missing")
	assert.ErrorIs(t, err, broker.ErrUnknownTopic)

	page, err := broker.ReadRange(ctx, cluster, "t", p, 40, 90)
	require.NoError(t, err)
	require.Len(t, page, 50)
	assert.Equal(t, int64(40), page[0].Offset)
	assert.Equal(t, "89", string(page[49].Value))
	_, err = broker.ReadRange(ctx, cluster, "t", p, 0, 150)
	assert.Error(t, err, "more than a page is refused")

	// A group that does not exist has committed nothing.
	none, err := broker.DescribeGroup(ctx, cluster, "nobody", "t")
	require.NoError(t, err)
	require.Len(t, none.Partitions, 3)
	assert.Equal(t, int64(-1), none.Partitions[p].Committed)
	assert.Equal(t, int64(150), none.Partitions[p].Lag())

	// A group that committed 100 of the 150, with no member now.
	r := broker.NewReader(broker.ReaderConfig{Cluster: cluster, Topic: "t", Group: "g", SessionTimeout: time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	var last message.Message
	for range 100 {
		last, err = r.Fetch(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, r.Commit(ctx, last))
	g, err := broker.DescribeGroup(ctx, cluster, "g", "t")
	require.NoError(t, err)
	assert.Len(t, g.Members, 1)
	assert.Equal(t, []int{0, 1, 2}, g.Members[0].Partitions)
	require.NoError(t, r.Close(ctx))
	g, err = broker.DescribeGroup(ctx, cluster, "g", "t")
	require.NoError(t, err)
	require.Len(t, g.Partitions, 3)
	assert.Equal(t, int64(100), g.Partitions[p].Committed)
	assert.Equal(t, int64(50), g.Partitions[p].Lag())
	assert.Empty(t, g.Members)
}

// A member can commit an offset after the group moved past it: one cut off past its session
// timeout finishes the writes it had in flight and commits them once it is back, after the
// partition's new owner committed further. Kafka takes any member's commit, so that late commit
// would rewind the group: the events in between are read again (harmless) and, once the owner
// has nothing newer to commit, the lag never drains. A commit only ever moves the group forward.
func TestCommitNeverRewindsTheGroup(t *testing.T) {
	devenvtest.SkipIfShort(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	require.NoError(t, err)
	defer c.Close()
	cluster := broker.Cluster{Brokers: c.ListenAddrs()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	writeNumbered(ctx, t, cluster, 20)

	r := broker.NewReader(broker.ReaderConfig{Cluster: cluster, Topic: "t", Group: "g", SessionTimeout: 6 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	defer func() { _ = r.Close(context.Background()) }()
	fetched := make([]message.Message, 20)
	for i := range fetched {
		fetched[i], err = r.Fetch(ctx)
		require.NoError(t, err)
	}
	committed := func() int64 {
		g, err := broker.DescribeGroup(ctx, cluster, "g", "t")
		require.NoError(t, err)
		return g.Partitions[0].Committed
	}

	require.NoError(t, r.Commit(ctx, fetched[14]))
	require.Equal(t, int64(15), committed())
	require.NoError(t, r.Commit(ctx, fetched[9]), "a late commit is not an error")
	assert.Equal(t, int64(15), committed(), "the late commit left the group where it was")
	require.NoError(t, r.Commit(ctx, fetched[19]))
	assert.Equal(t, int64(20), committed(), "a commit further on moves it")
}

// writeNumbered writes n messages to topic "t", all with key "k" (so to one partition, in order),
// whose values are 0 to n-1.
func writeNumbered(ctx context.Context, t *testing.T, cluster broker.Cluster, n int) {
	t.Helper()
	w := broker.NewWriter(cluster, "t")
	defer func() { _ = w.Close(context.Background()) }()
	msgs := make([]message.Message, n)
	for i := range msgs {
		msgs[i] = message.Message{Key: []byte("k"), Value: []byte(fmt.Sprint(i))}
	}
	require.NoError(t, w.Write(ctx, msgs...))
}
