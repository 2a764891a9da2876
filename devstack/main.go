// Command devstack runs the embedded local stack in the foreground: a Kafka-protocol broker
// (kfake) on 127.0.0.1:9092 with the topics created, and dynalite, a DynamoDB API, on
// 127.0.0.1:4566 with the table created. Ctrl-C or SIGTERM stops both. No Docker needed.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/store"
)

const (
	kafkaPort  = 9092
	ddbPort    = 4566
	partitions = 6
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "devstack: %s\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 1 {
		return fmt.Errorf("unexpected arguments %q", args[1:])
	}
	// The same variables, with the same defaults, as the consumer reads, so the stack creates
	// exactly the topics and table the services will look for.
	cfg, err := config.LoadConsumer()
	if err != nil {
		return err
	}

	kafka, err := devenv.StartKafka(kafkaPort, partitions, "", []string{cfg.Topic, cfg.DLQTopic})
	if err != nil {
		return err
	}
	defer kafka.Close()

	ddb, err := devenv.StartDynalite(ctx, ddbPort, os.Getenv("DYNALITE_DATA"), prefixed(stdout, "dynalite | "))
	if err != nil {
		return err
	}
	defer ddb.Stop()

	cfg.Store.Host = ddb.Endpoint()
	client, err := store.NewClient(ctx, cfg.Store, 1)
	if err != nil {
		return err
	}
	tableCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := store.CreateTable(tableCtx, client, cfg.Table); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "devstack ready\n"+
		"  kafka     %s  topics %s, %s (%d partitions each)\n"+
		"  dynamodb  %s  table %s\n"+
		"Ctrl-C stops both.\n",
		strings.Join(kafka.ListenAddrs(), ","), cfg.Topic, cfg.DLQTopic, partitions, ddb.Endpoint(), cfg.Table)
	<-ctx.Done()
	fmt.Fprintln(stdout, "devstack stopping")
	return nil
}

// prefixed marks dynalite's few lines of output as its own.
func prefixed(w io.Writer, prefix string) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		for _, line := range strings.SplitAfter(string(p), "\n") {
			if line != "" {
				if _, err := io.WriteString(w, prefix+line); err != nil {
					return 0, err
				}
			}
		}
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
