// Package devenv is the embedded local stack, defined once: a Kafka-protocol broker (kfake,
// in-process) with the topics, a DynamoDB API (dynalite, a child process) with the table, the
// project's binaries built and run as child processes, and what the broker and the table say
// afterwards. `make run` (through devstack/), the integration tests and the soak all run their
// infrastructure through it, so they run the same thing; and `make compose-up` provisions the
// Docker stack through it (Provision), so that the two stacks have the same topics and table.
package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// Options says where the stack runs and what it creates.
type Options struct {
	// The names the services use: the stack creates these topics and these tables (KeyTable, the
	// producer's Idempotency-Keys, unless it is empty).
	Topic, DLQTopic, Group, Table, KeyTable string
	// Ports; 0 picks a free one.
	KafkaPort, DynalitePort int
	// Data directories, for a stack that keeps its data across restarts; empty keeps it in
	// memory.
	KafkaDataDir, DynaliteDataDir string
	// DynaliteBin is the dynalite command; empty runs the one devstack/ pins.
	DynaliteBin string
	// KafkaOpts are extra kfake options, such as TLS or SASL; KafkaSecurity is then how clients
	// reach the broker, the stack's own setup and Stack.Cluster included.
	KafkaOpts     []kfake.Opt
	KafkaSecurity broker.Security
}

// NewOptions returns the stack the settings describe: the consumer's names, the stack's ports and
// data directory.
func NewOptions(cfg config.DevStack) Options {
	return Options{
		Topic: cfg.Topic, DLQTopic: cfg.DLQTopic, Group: cfg.Group, Table: cfg.Table, KeyTable: cfg.KeyTable,
		KafkaPort: cfg.KafkaPort, DynalitePort: cfg.DynamoDBPort,
		DynaliteDataDir: cfg.DynaliteData, DynaliteBin: cfg.DynaliteBin,
	}
}

// Ephemeral returns the stack of `make run`, with the same names, but on free ports and in
// memory, for a test or the soak that must not collide with anything else running.
func Ephemeral() (Options, error) {
	cfg, err := config.LoadDevStack()
	if err != nil {
		return Options{}, err
	}
	o := NewOptions(cfg)
	o.KafkaPort, o.DynalitePort, o.DynaliteDataDir = 0, 0, ""
	return o, nil
}

// Stack is a running broker with the topics and a DynamoDB API with the table.
type Stack struct {
	Kafka    *kfake.Cluster
	Brokers  []string
	Dynalite *Dynalite
	Store    *store.Table

	Topic, DLQTopic, Table, Group, KeyTable string

	opts    Options
	logs    io.Writer
	cluster broker.Cluster
}

// StartStack starts the broker and the store and provisions them (Provision): the topics and the
// table. dynalite's output goes to logs.
func StartStack(ctx context.Context, logs io.Writer, opts Options) (*Stack, error) {
	s := &Stack{Topic: opts.Topic, DLQTopic: opts.DLQTopic, Table: opts.Table, Group: opts.Group,
		KeyTable: opts.KeyTable, opts: opts, logs: logs}
	if err := s.startKafka(); err != nil {
		return nil, err
	}
	if err := s.StartDynalite(ctx); err != nil {
		s.Kafka.Close()
		return nil, err
	}
	client, err := store.NewClient(ctx, s.Dynalite.Endpoint(), "", 16)
	if err == nil {
		// dynalite has no TTL; tombstones then stay, which changes nothing a reader sees.
		err = Provision(ctx, s.cluster, client, s.Table, s.KeyTable, s.Topic, s.DLQTopic)
		if errors.Is(err, store.ErrNoTTL) {
			err = nil
		}
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Store = store.New(client, s.Table, 0)
	return s, nil
}

// StartKafka starts the broker again after StopKafka: on the same port, and with the same data
// if Options.KafkaDataDir is set. Without it, the topics are created again, empty.
func (s *Stack) StartKafka(ctx context.Context) error {
	if err := s.startKafka(); err != nil {
		return err
	}
	if err := broker.CreateTopics(ctx, s.cluster, Partitions, s.Topic, s.DLQTopic); err != nil {
		s.Kafka.Close()
		return err
	}
	return nil
}

func (s *Stack) startKafka() error {
	k, err := StartKafka(s.opts.KafkaPort, s.opts.KafkaDataDir, s.opts.KafkaOpts...)
	if err != nil {
		return err
	}
	s.Kafka, s.Brokers = k, k.ListenAddrs()
	if s.opts.KafkaPort == 0 {
		_, port, _ := net.SplitHostPort(s.Brokers[0])
		s.opts.KafkaPort, _ = strconv.Atoi(port)
	}
	if s.cluster, err = broker.NewCluster(s.Brokers, s.opts.KafkaSecurity, nil); err != nil {
		k.Close()
		return err
	}
	return nil
}

// StopKafka stops the broker, as an outage would.
func (s *Stack) StopKafka() { s.Kafka.Close() }

// StartDynalite starts the store, again after Dynalite.Stop: on the same port, and with the
// same data if Options.DynaliteDataDir is set.
func (s *Stack) StartDynalite(ctx context.Context) error {
	d, err := StartDynalite(ctx, s.opts.DynalitePort, s.opts.DynaliteDataDir, s.opts.DynaliteBin, s.logs)
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

// Cluster is how a client reaches the broker, with Options.KafkaSecurity.
func (s *Stack) Cluster() broker.Cluster { return s.cluster }

// ConsumerEnv is the environment for a consumer binary serving HTTP on port, with short
// sessions, commit intervals and backoffs so that tests and the soak move quickly. extra entries
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

// ProducerEnv is the environment for a producer binary listening on port, with its
// Idempotency-Keys in the stack's key table.
func (s *Stack) ProducerEnv(port int, extra ...string) []string {
	return append([]string{
		"SERVER_PORT=" + strconv.Itoa(port),
		"KAFKA_BROKERS=" + s.Brokers[0],
		"TOPIC_NAME=" + s.Topic,
		"DDB_HOST=" + s.Dynalite.Endpoint(),
		"IDEMPOTENCY_TABLE=" + s.KeyTable,
	}, extra...)
}

// Describe is the stack in a few lines, for people.
func (s *Stack) Describe() string {
	tables := "table " + s.Table
	if s.KeyTable != "" {
		tables = fmt.Sprintf("tables %s, %s (the producer's Idempotency-Keys)", s.Table, s.KeyTable)
	}
	return fmt.Sprintf("  kafka     %s  topics %s, %s (%d partitions each)\n  dynamodb  %s  %s\n",
		s.Brokers[0], s.Topic, s.DLQTopic, Partitions, s.Dynalite.Endpoint(), tables)
}

// WaitNoLag waits until the group has committed every message of the topic. It fails at once if
// one of procs exits by itself (the consumers meant to do the work), and after within.
func (s *Stack) WaitNoLag(ctx context.Context, within time.Duration, procs ...*Process) error {
	deadline := time.Now().Add(within)
	for {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		lag, err := broker.Lag(lctx, s.Cluster(), s.Group, s.Topic)
		cancel()
		if err == nil && lag == 0 {
			return nil
		}
		for _, p := range procs {
			if p.Exited() {
				return fmt.Errorf("%s exited by itself: %w", p.Name, p.Wait(0))
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("the group's lag is unknown after %s: %w", within, err)
			}
			return fmt.Errorf("the group still has lag %d after %s", lag, within)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the group still has lag %d: %w", lag, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
