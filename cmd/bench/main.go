// Command bench is `make bench`: it builds the binaries, runs them on the embedded stack, and
// prints one table in which every figure is also a ratio to a baseline measured in the same
// run. It writes a chart of the consumer's rate against the store ceiling.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ankitamadan/patient-profile/internal/bench"
	"github.com/ankitamadan/patient-profile/internal/devenv"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	cfg := bench.Config{Progress: stderr}
	fs.IntVar(&cfg.Events, "events", 20000, "events in each consumer workload")
	fs.DurationVar(&cfg.Delay, "delay", 5*time.Millisecond, "delay added to every store call in the delayed workloads")
	fs.IntVar(&cfg.InFlight, "in-flight", 64, "the consumer's MAX_IN_FLIGHT, and the store ceiling's goroutines")
	fs.IntVar(&cfg.Conns, "conns", 64, "HTTP connections of the producer load")
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "how long each producer load runs")
	fs.BoolVar(&cfg.ProducerOnly, "producer-only", false, "measure the producers alone")
	fs.BoolVar(&cfg.FreshnessOnly, "freshness-only", false,
		"measure freshness and CPU and memory at 100 and 1,000 requests/s alone (sizing a deployment)")
	fs.IntVar(&cfg.Drain, "drain", 1000000, "events in the memory drain; 0 skips it")
	fs.IntVar(&cfg.DrainBurst, "drain-burst", 10, "events per patient in the memory drain")
	fs.IntVar(&cfg.ConsoleMessages, "console", 1000000,
		"messages on the topic the console's pages are measured on (the drain's if as large); 0 skips them")
	chart := fs.String("chart", "docs/bench.png", "where to write the chart; empty skips it")
	out := fs.String("out", "docs/bench.md", "where to write the table too; empty skips it")
	logFile := fs.String("log", "", "file for the binaries' and dynalite's output (default: discard)")
	serve := fs.String("serve", "",
		"internal: serve a baseline producer ("+bench.ServeCeiling+" or "+bench.ServeNaive+")")
	addr := fs.String("addr", "", "internal: -serve's listen address")
	brokers := fs.String("brokers", "", "internal: -serve's broker")
	topic := fs.String("topic", "", "internal: -serve's topic")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h printed the flags: that is what was asked for
		}
		return err
	}
	if *serve != "" {
		return bench.Serve(ctx, *serve, *addr, *brokers, *topic)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Self = self
	dir, err := os.MkdirTemp("", "bench-bin")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	cfg.BinDir = dir
	logs, closeLogs, err := devenv.OpenLogs(*logFile)
	if err != nil {
		return err
	}
	defer closeLogs()
	cfg.Logs = logs

	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table, time.Now()); err != nil {
		return err
	}
	if _, err := stdout.Write(table.Bytes()); err != nil {
		return err
	}
	if *out != "" {
		if err := writeFile(*out, table.Bytes()); err != nil {
			return err
		}
	}
	if *chart != "" {
		var png bytes.Buffer
		if err := res.WriteChart(&png); err != nil {
			return err
		}
		if err := writeFile(*chart, png.Bytes()); err != nil {
			return err
		}
	}
	if res.Missed() {
		fmt.Fprintln(stderr, "bench: some targets were missed (the table's last column)")
	}
	return nil
}

func writeFile(path string, b []byte) error {
	// The table and the chart are files of the repository, for everyone to read.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil { //nolint:gosec // G301: see above
		return err
	}
	return os.WriteFile(path, b, 0o644) //nolint:gosec // G306: see above
}
