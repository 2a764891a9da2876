// Command console is the browser console at http://localhost:8080: the topic, the group, the
// dead letters and the replica side by side, a patient's events each with the outcome the
// ordering rule gives it, dead-letter replay and a form that sends a profile through the
// producer. It listens on loopback unless given a token. Configuration is by environment
// variable; `console -h` lists them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/console"
	"github.com/ankitamadan/patient-profile/internal/ops"
	"github.com/ankitamadan/patient-profile/internal/service"
	"github.com/ankitamadan/patient-profile/internal/store"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "console: %s\n", err)
		os.Exit(1)
	}
}

var command = service.Command{
	Name: "console",
	About: "The browser console: the topics, the group, the dead letters and the table side by side, a patient's\n" +
		"timeline with each event's outcome, dead-letter replay, and a form that sends a profile to the producer.",
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	return service.Run(ctx, command, args, stdout, config.LoadConsole, serve)
}

// serve serves until ctx is cancelled (a signal arrived), then ends the live streams and lets
// the pages in flight finish, within SHUTDOWN_TIMEOUT.
func serve(ctx context.Context, cfg config.Console, logger *slog.Logger) error {
	cluster, err := broker.NewCluster(cfg.Brokers, broker.Security(cfg.KafkaSecurity), cfg.Redirect())
	if err != nil {
		return err
	}
	client, err := store.NewClient(ctx, cfg.Store.Host, cfg.Region, 8)
	if err != nil {
		return err
	}
	table := store.New(client, cfg.Table, 0)
	replays := broker.NewWriter(cluster, cfg.Topic)
	c := console.New(logger, console.Config{
		Topic: cfg.Topic, DLQTopic: cfg.DLQTopic, Group: cfg.Group,
		ProducerURL: cfg.ProducerURL, ConsumerURL: cfg.ConsumerURL, APIToken: cfg.APIToken,
		Tokens: cfg.Tokens, Refresh: cfg.Refresh, TimelineMessages: cfg.TimelineMessages,
	}, console.Deps{Kafka: broker.Inspector{Cluster: cluster}, Table: table, Replay: replays})
	ready := broker.NewPinger(cluster, cfg.Topic, cfg.DLQTopic)
	handler := ops.NewHandler(logger, ops.NewRegistry(), c.Handler(), ready, table)
	srv, err := service.ListenOn(ctx, cfg.Host, cfg.Port, handler, 30*time.Second)
	if err != nil {
		return err
	}
	srv.Serve()
	runCtx, stopRun := context.WithCancel(ctx)
	running := make(chan struct{})
	go func() {
		defer close(running)
		c.Run(runCtx)
	}()
	logger.Info("console listening", slog.String("url", "http://"+net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))),
		slog.String("topic", cfg.Topic), slog.String("group", cfg.Group), slog.String("table", cfg.Table),
		slog.Bool("token", len(cfg.Tokens) > 0), slog.Bool("loopback", config.IsLoopback(cfg.Host)))

	select {
	case <-srv.Done():
	case <-ctx.Done():
	}
	stopRun()
	<-running
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := errors.Join(srv.Shutdown(shutdownCtx), replays.Close(shutdownCtx)); err != nil {
		return err
	}
	logger.Info("console stopped")
	return nil
}
