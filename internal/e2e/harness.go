// Package e2e drives the real binaries against the embedded stack: it builds them, runs them as
// child processes, kills them, and reads what the broker and the table say afterwards. The
// end-to-end tests and the soak test (cmd/soak) are built on it.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// Stack is a broker with the topics and a DynamoDB API with the table.
type Stack struct {
	Kafka    *kfake.Cluster
	Brokers  []string
	Dynalite *devenv.Dynalite
	Store    *store.Table

	Topic, DLQTopic, Table, Group string

	opts StackOptions
	logs io.Writer
}

// StackOptions fixes ports and data directories, for tests that stop a piece of the stack and
// start it again where it was. The zero value picks free ports and keeps everything in memory.
type StackOptions struct {
	KafkaPort, DynalitePort       int
	KafkaDataDir, DynaliteDataDir string
	// KafkaOpts are extra kfake options, such as TLS or SASL.
	KafkaOpts []kfake.Opt
}

// StartStack starts kfake (6 partitions per topic) and dynalite with the table.
func StartStack(ctx context.Context, logs io.Writer, opts StackOptions) (*Stack, error) {
	s := &Stack{Topic: "patient.profile.updated", DLQTopic: "patient.profile.updated.dlq", Table: "patient-profile", Group: "consultation",
		opts: opts, logs: logs}
	if err := s.StartKafka(); err != nil {
		return nil, err
	}
	if err := s.StartDynalite(ctx); err != nil {
		s.Kafka.Close()
		return nil, err
	}
	client, err := store.NewClient(ctx, config.Store{Host: s.Dynalite.Endpoint()}, 16)
	if err == nil {
		err = store.CreateTable(ctx, client, s.Table)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Store = store.New(client, s.Table)
	return s, nil
}

// StartKafka starts the broker, again after StopKafka: on the same port, and with the same data
// if StackOptions.KafkaDataDir is set.
func (s *Stack) StartKafka() error {
	k, err := devenv.StartKafka(s.opts.KafkaPort, 6, s.opts.KafkaDataDir, []string{s.Topic, s.DLQTopic}, s.opts.KafkaOpts...)
	if err != nil {
		return err
	}
	s.Kafka, s.Brokers = k, k.ListenAddrs()
	if s.opts.KafkaPort == 0 {
		_, port, _ := net.SplitHostPort(s.Brokers[0])
		s.opts.KafkaPort, _ = strconv.Atoi(port)
	}
	return nil
}

// StopKafka stops the broker, as an outage would.
func (s *Stack) StopKafka() { s.Kafka.Close() }

// StartDynalite starts the store, again after StopDynalite: on the same port, and with the same
// data if StackOptions.DynaliteDataDir is set.
func (s *Stack) StartDynalite(ctx context.Context) error {
	d, err := devenv.StartDynalite(ctx, s.opts.DynalitePort, s.opts.DynaliteDataDir, s.logs)
	if err != nil {
		return err
	}
	s.Dynalite = d
	if s.opts.DynalitePort == 0 {
		_, port, _ := net.SplitHostPort(d.Addr)
		s.opts.DynalitePort, _ = strconv.Atoi(port)
	}
	return nil
}

// Close stops the broker and the store.
func (s *Stack) Close() {
	s.Kafka.Close()
	s.Dynalite.Stop()
}

// ConsumerEnv is the environment for a consumer binary serving health on port. extra entries
// (KEY=value) come last and so win.
func (s *Stack) ConsumerEnv(port int, extra ...string) []string {
	return append([]string{
		"SERVER_PORT=" + strconv.Itoa(port),
		"KAFKA_BROKERS=" + s.Brokers[0],
		"TOPIC_NAME=" + s.Topic,
		"DLQ_TOPIC=" + s.DLQTopic,
		"CONSUMER_GROUP=" + s.Group,
		"DDB_HOST=" + s.Dynalite.Endpoint(),
		"DDB_NAME=" + s.Table,
		"KAFKA_SESSION_TIMEOUT=3s",
		"COMMIT_INTERVAL=200ms",
		"RETRY_MAX_BACKOFF=500ms",
		"DDB_TIMEOUT=2s",
		"LOG_LEVEL=info",
	}, extra...)
}

// ProducerEnv is the environment for a producer binary listening on port.
func (s *Stack) ProducerEnv(port int, extra ...string) []string {
	return append([]string{
		"SERVER_PORT=" + strconv.Itoa(port),
		"KAFKA_BROKERS=" + s.Brokers[0],
		"TOPIC_NAME=" + s.Topic,
	}, extra...)
}

// Build compiles the packages (for example "./cmd/consumer") into dir, from the module root.
func Build(ctx context.Context, dir string, race bool, pkgs ...string) error {
	root, err := devenv.ModuleRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkgs...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %v: %w\n%s", pkgs, err, out)
	}
	return nil
}

// Process is a running binary.
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs bin with only env (plus PATH and HOME) as its environment, output to logs.
func Start(name, bin string, env []string, logs io.Writer) (*Process, error) {
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Wait waits up to d for the process to exit and returns its exit error (nil for status 0).
func (p *Process) Wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		return fmt.Errorf("%s still running after %s", p.Name, d)
	}
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

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

// NewWriter returns a raw writer to topic that places keys as the Java clients do (murmur2), as
// any other producer of the topic would: the tests publish around the producer with it.
func NewWriter(brokers []string, topic string) *kafka.Writer {
	return &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 500}
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
