// Command consumer is the Consultation side's replica writer: it reads patient.profile.updated
// in a consumer group and applies each event to DynamoDB with a conditional write, so the table
// converges to every patient's newest profile whatever the delivery order. Configuration is by
// environment variable; see the README.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ankitamadan/patient-profile/internal/api"
	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/consumer"
	"github.com/ankitamadan/patient-profile/internal/logging"
	"github.com/ankitamadan/patient-profile/internal/ops"
	"github.com/ankitamadan/patient-profile/internal/store"
	"github.com/ankitamadan/patient-profile/internal/tracing"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "consumer: %s\n", err)
		os.Exit(1)
	}
}

// run consumes until ctx is cancelled or a signal arrives, then finishes or abandons the work in
// flight, commits what is final and leaves the group, within SHUTDOWN_TIMEOUT.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 1 {
		if len(args) == 2 && isHelp(args[1]) {
			return usage(stdout)
		}
		return fmt.Errorf("unexpected arguments %q: the consumer is configured with environment variables (-h lists them)", args[1:])
	}
	cfg, err := config.LoadConsumer()
	if err != nil {
		return err
	}
	logger := logging.New(stdout, cfg.LogLevel)
	stopTracing, err := tracing.Setup(ctx, logger, "patient-profile-consumer", cfg.ExportTraces())
	if err != nil {
		return err
	}
	defer func() {
		// Flush the spans still buffered, within a bound of their own: ctx is already done.
		flushCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			logger.Warn("flushing traces failed", slog.String("error", err.Error()))
		}
	}()

	client, err := store.NewClient(ctx, cfg.Host, cfg.Region, cfg.MaxInFlight)
	if err != nil {
		return err
	}
	profiles := store.New(client, cfg.Table, cfg.TombstoneTTL)
	cluster, err := broker.NewCluster(cfg.Brokers, broker.Security(cfg.KafkaSecurity))
	if err != nil {
		return err
	}
	drainTimeout, closeTimeout := cfg.ShutdownBudget()
	topics := broker.NewPinger(cluster, cfg.Topic, cfg.DLQTopic)

	// The consumer is built once its dependencies answer (below); its counts read zero until then.
	var running atomic.Pointer[consumer.Consumer]
	reg := ops.NewRegistry()
	ops.RegisterConsumer(reg, running.Load)
	writes := ops.MeasureStore(profiles, reg)
	srv := &http.Server{
		Handler:           ops.NewHandler(logger, reg, api.NewReadHandler(profiles, cfg.APITokens), topics, profiles, loopCheck{&running}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// A health server that dies would leave an orchestrator blind: stop the consumer with it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var serveErr error
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve health: %w", err)
			cancel()
		}
	}()
	logger.Info("consumer started", slog.String("health_addr", ln.Addr().String()), slog.String("topic", cfg.Topic),
		slog.String("group", cfg.Group), slog.String("dlq_topic", cfg.DLQTopic), slog.String("table", cfg.Table), slog.Any("brokers", cfg.Brokers),
		slog.Bool("trace_export", cfg.ExportTraces()), slog.Bool("auth", len(cfg.APITokens) > 0))
	if len(cfg.APITokens) == 0 {
		logger.Warn("authentication is off: anyone who can reach the port can read profiles; set API_TOKENS or API_TOKENS_FILE")
	}

	// The reader joins the group only once the topics exist: kafka-go's group reader rejoins in a
	// tight loop, with no backoff, while its topic is missing.
	var closers []io.Closer
	runErr := waitUntilReady(ctx, logger, cfg.RetryMaxBackoff, topics, profiles)
	if runErr == nil && ctx.Err() == nil {
		reader := broker.NewReader(broker.ReaderConfig{Cluster: cluster, Topic: cfg.Topic, Group: cfg.Group, SessionTimeout: cfg.SessionTimeout, Logger: logger})
		dlq := broker.NewDeadLetters(cluster, cfg.DLQTopic)
		closers = append(closers, reader, dlq)
		c := consumer.New(logger, reader, writes, dlq, consumer.Config{
			CommitInterval:  cfg.CommitInterval,
			AttemptTimeout:  cfg.Store.Timeout,
			MaxBackoff:      cfg.RetryMaxBackoff,
			MaxClockSkew:    cfg.MaxClockSkew,
			MaxInFlight:     cfg.MaxInFlight,
			MaxBuffered:     cfg.MaxBuffered,
			ShutdownTimeout: drainTimeout,
			Permanent:       store.IsRejected,
		})
		running.Store(c)
		runErr = c.Run(ctx)
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	closeErr := closeAll(closeCtx, closers...)
	_ = srv.Shutdown(closeCtx)
	if err := errors.Join(runErr, closeErr, serveErr); err != nil {
		return err
	}
	logger.Info("consumer stopped")
	return nil
}

// closeAll closes each in turn: the reader first, which leaves the group so that the others
// take this member's partitions at once instead of after a session timeout. kafka-go's Close can
// block (kafka-go #428), so ctx bounds the whole.
func closeAll(ctx context.Context, closers ...io.Closer) error {
	done := make(chan error, 1)
	go func() {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c.Close())
		}
		done <- errors.Join(errs...)
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("close: %w", err)
		}
		return nil
	case <-ctx.Done():
		return errors.New("close: timed out leaving the group; the broker will expire the session")
	}
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

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func usage(w io.Writer) error {
	fmt.Fprint(w, "Usage: consumer\n\nThe Consultation side: applies patient.profile.updated events to the DynamoDB table with a\nconditional write; events that can never be applied go to the dead-letter topic.\n\nIt takes no arguments. These environment variables configure it:\n\n")
	return config.Usage(w, &config.Consumer{})
}
