// Command soak is the convergence test behind `make soak`: it publishes an adversarial stream
// (shuffled, duplicated, tied timestamps, mixed offsets and fraction widths, poison), runs the
// real consumer binary, SIGKILLs it at random points, runs several at once and kills one, and
// when the group has caught up compares every row with the newest event per patient and the
// dead-letter topic with the poison sent. It prints one line and exits non-zero on any
// difference.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ankitamadan/patient-profile/internal/e2e"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "soak: %s\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	cfg := e2e.SoakConfig{Progress: stderr}
	fs.IntVar(&cfg.Patients, "patients", 2000, "patients")
	fs.IntVar(&cfg.Events, "events", 20000, "valid events in all, duplicates included")
	fs.IntVar(&cfg.Poison, "poison", 25, "poison messages")
	fs.IntVar(&cfg.Kills, "kills", 3, "SIGKILLs of the lone consumer in phase 1")
	fs.IntVar(&cfg.Consumers, "consumers", 2, "concurrent consumers in phase 2 (one is SIGKILLed)")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "random seed, printed so a run can be repeated")
	fs.StringVar(&cfg.ConsumerBin, "consumer", "bin/consumer", "consumer binary")
	logFile := fs.String("log", "", "file for the consumers' output (default: discard)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg.Seed = *seed
	cfg.Logs = io.Discard
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.Logs = f
	}
	fmt.Fprintf(stderr, "soak: seed %d\n", cfg.Seed)

	res, err := e2e.Soak(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	for _, p := range res.Problems {
		fmt.Fprintln(stdout, "  ", p)
	}
	if !res.OK() || len(res.Problems) > 0 {
		return fmt.Errorf("no exact convergence (seed %d)", cfg.Seed)
	}
	return nil
}
