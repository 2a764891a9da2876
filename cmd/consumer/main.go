// Command consumer is the Consultation side's replica writer: it reads patient.profile.updated
// in a consumer group and applies each event to DynamoDB with a conditional write, so the table
// converges to every patient's newest profile whatever the delivery order. Configuration is by
// environment variable; `consumer -h` lists them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/consumer"
	"github.com/ankitamadan/patient-profile/internal/ops"
	"github.com/ankitamadan/patient-profile/internal/replica"
	"github.com/ankitamadan/patient-profile/internal/service"
	"github.com/ankitamadan/patient-profile/internal/store"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "consumer: %s\n", err)
		os.Exit(1)
	}
}

var command = service.Command{
	Name: "consumer",
	About: "The Consultation side: applies patient.profile.updated events to the DynamoDB table with a\n" +
		"conditional write; events that can never be applied go to the dead-letter topic.",
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	return service.Run(ctx, command, args, stdout, config.LoadConsumer, consume)
}

// consume consumes until ctx is cancelled (a signal arrived), then finishes or abandons the work
// in flight, commits what is final and leaves the group, within SHUTDOWN_TIMEOUT.
func consume(ctx context.Context, cfg config.Consumer, logger *slog.Logger) error {
	client, err := store.NewClient(ctx, cfg.Host, cfg.Region, cfg.MaxInFlight)
	if err != nil {
		return err
	}
	profiles := store.New(client, cfg.Table, cfg.TombstoneTTL)
	cluster, err := broker.NewCluster(cfg.Brokers, broker.Security(cfg.KafkaSecurity), cfg.Redirect())
	if err != nil {
		return err
	}
	drainTimeout, closeTimeout := cfg.ShutdownBudget()
	topics := broker.NewPinger(cluster, cfg.Topic, cfg.DLQTopic)

	// The consumer is built once its dependencies answer (below); its counts read zero until then.
	var running atomic.Pointer[consumer.Consumer]
	reg := ops.NewRegistry()
	ops.RegisterConsumer(reg, running.Load)
	observeAge := ops.EventAge(reg)
	ops.RegisterGroupLag(reg, func(ctx context.Context) (int64, error) {
		return broker.Lag(ctx, cluster, cfg.Group, cfg.Topic)
	})
	writes := ops.MeasureStore(profiles, reg)
	routes := replica.NewHandler(logger, profiles, cfg.APITokens)
	handler := ops.NewHandler(logger, reg, routes, topics, profiles, loopCheck{&running})
	srv, err := service.Listen(ctx, cfg.Port, handler, 10*time.Second)
	if err != nil {
		return err
	}
	srv.Serve()
	// A health server that dies would leave an orchestrator blind: stop the consumer with it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-srv.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	logger.Info("consumer started", slog.String("health_addr", srv.Addr()), slog.String("topic", cfg.Topic),
		slog.String("group", cfg.Group), slog.String("dlq_topic", cfg.DLQTopic), slog.String("table", cfg.Table),
		slog.Any("brokers", cfg.Brokers), slog.Bool("trace_export", cfg.ExportTraces()),
		slog.Bool("auth", len(cfg.APITokens) > 0))
	if len(cfg.APITokens) == 0 {
		logger.Warn("authentication is off: anyone who can reach the port can read profiles; " +
			"set API_TOKENS or API_TOKENS_FILE")
	}

	// Nothing is fetched before an event can be written or parked: an event fetched early would
	// only be retried, in memory, until the table or the dead-letter topic appears.
	runErr := waitUntilReady(ctx, logger, cfg.RetryMaxBackoff, topics, profiles)
	var reader *broker.Reader
	var dlq *broker.DeadLetters
	if runErr == nil && ctx.Err() == nil {
		reader = broker.NewReader(broker.ReaderConfig{
			Cluster: cluster, Topic: cfg.Topic, Group: cfg.Group, SessionTimeout: cfg.SessionTimeout, Logger: logger,
		})
		dlq = broker.NewDeadLetters(cluster, cfg.DLQTopic)
		c := consumer.New(logger, reader, writes, dlq, consumer.Config{
			CommitInterval:  cfg.CommitInterval,
			AttemptTimeout:  cfg.Timeout,
			MaxBackoff:      cfg.RetryMaxBackoff,
			MaxClockSkew:    cfg.MaxClockSkew,
			MaxInFlight:     cfg.MaxInFlight,
			MaxBuffered:     cfg.MaxBuffered,
			ShutdownTimeout: drainTimeout,
			Permanent:       store.IsRejected,
			ObserveAge:      observeAge,
		})
		running.Store(c)
		runErr = c.Run(ctx)
	}

	closeCtx, cancelClose := context.WithTimeout(context.Background(), closeTimeout)
	defer cancelClose()
	var closeErr error
	if reader != nil {
		// The reader first: leaving the group lets the others take this member's partitions at
		// once instead of after a session timeout.
		closeErr = errors.Join(reader.Close(closeCtx), dlq.Close(closeCtx))
	}
	if err := errors.Join(runErr, closeErr, srv.Shutdown(closeCtx)); err != nil {
		return err
	}
	logger.Info("consumer stopped")
	return nil
}

// loopCheck is the loop's own readiness (a partition retrying a write, a failed commit), once
// the loop runs; until then the topic and table checks say what it waits for.
type loopCheck struct {
	c *atomic.Pointer[consumer.Consumer]
}

func (l loopCheck) Ping(ctx context.Context) error {
	if c := l.c.Load(); c != nil {
		return c.Ping(ctx)
	}
	return nil
}
