// Command producer is the Profile service: POST /patientprofile publishes a
// patient.profile.updated event to Kafka, keyed by PatientId, and answers once the broker has
// acknowledged it. Configuration is by environment variable; see the README.
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
	"github.com/ankitamadan/patient-profile/internal/logging"
	"github.com/ankitamadan/patient-profile/internal/ops"
	"github.com/ankitamadan/patient-profile/internal/tracing"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "producer: %s\n", err)
		os.Exit(1)
	}
}

// run serves until ctx is cancelled or a signal arrives, then stops accepting, lets in-flight
// requests finish with their ack or error, and flushes the Writer, within SHUTDOWN_TIMEOUT.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 1 {
		if len(args) == 2 && isHelp(args[1]) {
			return usage(stdout)
		}
		return fmt.Errorf("unexpected arguments %q: the producer is configured with environment variables (-h lists them)", args[1:])
	}
	cfg, err := config.LoadProducer()
	if err != nil {
		return err
	}
	logger := logging.New(stdout, cfg.LogLevel)
	stopTracing, err := tracing.Setup(ctx, logger, "patient-profile-producer", cfg.ExportTraces())
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

	cluster, err := broker.NewCluster(cfg.Brokers, broker.Security(cfg.KafkaSecurity))
	if err != nil {
		return err
	}
	pub := broker.NewPublisher(cluster, cfg.Topic, cfg.EventSource)
	reg := ops.NewRegistry()
	srv := &http.Server{
		Handler: ops.NewHandler(logger, reg, api.NewHandler(logger, pub, api.Config{
			PublishTimeout:       cfg.PublishTimeout,
			MaxInFlightPublishes: cfg.MaxInFlightPublishes,
			Tokens:               cfg.APITokens,
		}, reg), broker.NewPinger(cluster, cfg.Topic)),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      cfg.PublishTimeout + 10*time.Second,
		IdleTimeout:       time.Minute,
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("producer listening", slog.String("addr", ln.Addr().String()), slog.String("topic", cfg.Topic), slog.Any("brokers", cfg.Brokers),
		slog.Bool("auth", len(cfg.APITokens) > 0), slog.Int("api_tokens", len(cfg.APITokens)), slog.Int("max_in_flight_publishes", cfg.MaxInFlightPublishes),
		slog.Bool("trace_export", cfg.ExportTraces()))
	if len(cfg.APITokens) == 0 {
		logger.Warn("authentication is off: anyone who can reach the port can write profiles; set API_TOKENS or API_TOKENS_FILE")
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("producer shutting down", slog.Duration("timeout", cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Shutdown closes the listener and waits for every handler, and so for every publish in
	// flight (each bounded by PUBLISH_TIMEOUT), to answer.
	shutdownErr := srv.Shutdown(shutdownCtx)
	closed := make(chan error, 1)
	go func() { closed <- pub.Close() }()
	var closeErr error
	select {
	case closeErr = <-closed:
	case <-shutdownCtx.Done():
		closeErr = errors.New("close kafka writer: shutdown timeout")
	}
	if err := errors.Join(shutdownErr, closeErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("producer stopped")
	return nil
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func usage(w io.Writer) error {
	fmt.Fprint(w, "Usage: producer\n\nThe Profile service: POST /patientprofile publishes a patient.profile.updated event to Kafka,\nkeyed by PatientId, and answers 201 once the broker has acknowledged it.\n\nIt takes no arguments. These environment variables configure it:\n\n")
	return config.Usage(w, &config.Producer{})
}
