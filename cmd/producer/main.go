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
	"net/http"
	"os"
	"time"

	"github.com/ankitamadan/patient-profile/internal/api"
	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/idempotency"
	"github.com/ankitamadan/patient-profile/internal/ops"
	"github.com/ankitamadan/patient-profile/internal/service"
	"github.com/ankitamadan/patient-profile/internal/store"
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
	cluster, err := broker.NewCluster(cfg.Brokers, broker.Security(cfg.KafkaSecurity), cfg.Redirect())
	if err != nil {
		return err
	}
	pub := broker.NewPublisher(cluster, cfg.Topic, cfg.EventSource)
	reg := ops.NewRegistry()
	routeCfg := api.Config{
		PublishTimeout:       cfg.PublishTimeout,
		MaxInFlightPublishes: cfg.MaxInFlightPublishes,
		Tokens:               cfg.APITokens,
		KeyTimeout:           cfg.KeyTimeout,
		KeyRequired:          cfg.KeyRequired,
	}
	topic := broker.NewPinger(cluster, cfg.Topic)
	var handler http.Handler
	if cfg.KeyTable == "" {
		handler = ops.NewHandler(logger, reg, api.NewHandler(logger, pub, routeCfg, reg), topic)
	} else {
		// As many idle connections as publishes may wait: each holds its key while it waits.
		client, err := store.NewClient(ctx, cfg.Idempotency.Host, cfg.Idempotency.Region, cfg.MaxInFlightPublishes)
		if err != nil {
			return err
		}
		keys := idempotency.New(client, cfg.KeyTable, cfg.KeyTTL, cfg.KeyLease)
		routeCfg.Keys = keys
		// Ready means a keyed request can be served too: /readyz names the key table if it is missing.
		handler = ops.NewHandler(logger, reg, api.NewHandler(logger, pub, routeCfg, reg), topic, keys)
	}
	// The write timeout covers the publish and the calls to the key table, which PUBLISH_TIMEOUT
	// and IDEMPOTENCY_TIMEOUT bound, and the rest with room.
	srv, err := service.Listen(ctx, cfg.Port, handler, cfg.PublishTimeout+2*cfg.KeyTimeout+10*time.Second)
	if err != nil {
		return err
	}
	srv.Serve()
	logger.Info("producer listening", slog.String("addr", srv.Addr()), slog.String("topic", cfg.Topic),
		slog.Any("brokers", cfg.Brokers), slog.Bool("auth", len(cfg.APITokens) > 0),
		slog.Int("api_tokens", len(cfg.APITokens)),
		slog.Int("max_in_flight_publishes", cfg.MaxInFlightPublishes), slog.Bool("trace_export", cfg.ExportTraces()),
		slog.String("idempotency_table", cfg.KeyTable), slog.Bool("idempotency_required", cfg.KeyRequired))
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
