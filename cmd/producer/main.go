// Command producer is the Profile service: POST /patientprofile publishes a
// patient.profile.updated event to Kafka, keyed by PatientId, and answers once the broker has
// acknowledged it. Configuration is by environment variable; `producer -h` lists them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ankitamadan/patient-profile/internal/api"
	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/ops"
	"github.com/ankitamadan/patient-profile/internal/service"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "producer: %s\n", err)
		os.Exit(1)
	}
}

var command = service.Command{
	Name: "producer",
	About: "The Profile service: POST /patientprofile publishes a patient.profile.updated event to Kafka,\n" +
		"keyed by PatientId, and answers 201 once the broker has acknowledged it.",
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	return service.Run(ctx, command, args, stdout, config.LoadProducer, serve)
}

// serve serves until ctx is cancelled (a signal arrived), then stops accepting, lets in-flight
// requests finish with their ack or error, and flushes the Writer, within SHUTDOWN_TIMEOUT.
func serve(ctx context.Context, cfg config.Producer, logger *slog.Logger) error {
	cluster, err := broker.NewCluster(cfg.Brokers, broker.Security(cfg.KafkaSecurity))
	if err != nil {
		return err
	}
	cluster.Redirect = cfg.Redirect()
	pub := broker.NewPublisher(cluster, cfg.Topic, cfg.EventSource)
	reg := ops.NewRegistry()
	routes := api.NewHandler(logger, pub, api.Config{
		PublishTimeout:       cfg.PublishTimeout,
		MaxInFlightPublishes: cfg.MaxInFlightPublishes,
		Tokens:               cfg.APITokens,
	}, reg)
	// The write timeout covers the publish, which PUBLISH_TIMEOUT bounds, and the rest with room.
	srv, err := service.Listen(ctx, cfg.Port, ops.NewHandler(logger, reg, routes, broker.NewPinger(cluster, cfg.Topic)),
		cfg.PublishTimeout+10*time.Second)
	if err != nil {
		return err
	}
	srv.Serve()
	logger.Info("producer listening", slog.String("addr", srv.Addr()), slog.String("topic", cfg.Topic),
		slog.Any("brokers", cfg.Brokers), slog.Bool("auth", len(cfg.APITokens) > 0),
		slog.Int("api_tokens", len(cfg.APITokens)),
		slog.Int("max_in_flight_publishes", cfg.MaxInFlightPublishes), slog.Bool("trace_export", cfg.ExportTraces()))
	if len(cfg.APITokens) == 0 {
		logger.Warn("authentication is off: anyone who can reach the port can write profiles; " +
			"set API_TOKENS or API_TOKENS_FILE")
	}

	select {
	case <-srv.Done():
	case <-ctx.Done():
	}
	logger.Info("producer shutting down", slog.Duration("timeout", cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Shutdown closes the listener and waits for every handler, and so for every publish in
	// flight (each bounded by PUBLISH_TIMEOUT), to answer; then the Writer has nothing to wait for.
	if err := errors.Join(srv.Shutdown(shutdownCtx), pub.Close(shutdownCtx)); err != nil {
		return err
	}
	logger.Info("producer stopped")
	return nil
}
