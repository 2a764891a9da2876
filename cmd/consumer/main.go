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
	"syscall"
	"time"

	"github.com/ankitamadan/patient-profile/internal/api"
	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/consumer"
	"github.com/ankitamadan/patient-profile/internal/store"
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
		return fmt.Errorf("unexpected arguments %q: the consumer is configured with environment variables", args[1:])
	}
	cfg, err := config.LoadConsumer()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	client, err := store.NewClient(ctx, cfg.Store, cfg.MaxInFlight)
	if err != nil {
		return err
	}
	profiles := store.New(client, cfg.Table)
	cluster, err := broker.NewCluster(cfg.Kafka)
	if err != nil {
		return err
	}
	reader := broker.NewReader(broker.ReaderConfig{Cluster: cluster, Topic: cfg.Topic, Group: cfg.Group, SessionTimeout: cfg.SessionTimeout, Logger: logger})
	dlq := broker.NewDeadLetters(cluster, cfg.DLQTopic)
	c := consumer.New(logger, reader, profiles, dlq, consumer.Config{
		CommitInterval: cfg.CommitInterval,
		AttemptTimeout: cfg.Store.Timeout,
		MaxBackoff:     cfg.RetryMaxBackoff,
		MaxInFlight:    cfg.MaxInFlight,
		MaxBuffered:    cfg.MaxBuffered,
		Permanent:      store.IsRejected,
		// Three quarters of the bound for the work in flight and the last commit, the rest for
		// leaving the group and closing connections.
		ShutdownTimeout: cfg.ShutdownTimeout * 3 / 4,
	})

	srv := &http.Server{
		Handler:           api.NewOpsHandler(newRegistry(c), broker.NewPinger(cluster, cfg.Topic, cfg.DLQTopic), profiles),
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
		slog.String("group", cfg.Group), slog.String("dlq_topic", cfg.DLQTopic), slog.String("table", cfg.Table), slog.Any("brokers", cfg.Brokers))

	runErr := waitForTable(ctx, logger, profiles, cfg.RetryMaxBackoff)
	if runErr == nil {
		runErr = c.Run(ctx)
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout/4)
	defer cancel()
	closeErr := closeAll(closeCtx, reader, dlq)
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

// waitForTable refuses to start on a table with the wrong key, where every write would fail
// validation and every event would be dead-lettered. A table it cannot reach yet (the store is
// down, or the table is still being created) is waited for.
func waitForTable(ctx context.Context, logger *slog.Logger, profiles *store.Table, maxWait time.Duration) error {
	wait := 100 * time.Millisecond
	for {
		err := profiles.Ping(ctx)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, store.ErrWrongTable):
			return err
		case ctx.Err() != nil:
			return nil
		}
		logger.Warn("table not reachable yet; waiting", slog.String("error", err.Error()), slog.Duration("wait", wait))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}
