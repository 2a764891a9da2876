// Command soak runs the convergence test behind `make soak` (package soak) at the size its flags
// say, prints one line, and exits non-zero on any difference from exact convergence.
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

	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/soak"
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
	cfg := soak.Config{Progress: stderr}
	fs.IntVar(&cfg.Patients, "patients", 2000, "patients")
	fs.IntVar(&cfg.Events, "events", 20000, "valid events in all, duplicates included")
	fs.IntVar(&cfg.Poison, "poison", 25, "poison messages")
	fs.IntVar(&cfg.Kills, "kills", 3, "SIGKILLs of the lone consumer in phase 1")
	fs.IntVar(&cfg.Consumers, "consumers", 2, "concurrent consumers in phase 2 (one is SIGKILLed)")
	fs.IntVar(&cfg.CrashLoops, "crash-loops", 3, "phase 3: rounds of SIGKILLing the consumers, "+
		"starting new ones and SIGKILLing those 0.5-1.5 s later, then starting new ones")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "random seed, printed so a run can be repeated")
	fs.BoolVar(&cfg.NetworkFaults, "network-faults", true,
		"phase 4: consumers and a producer behind Toxiproxy links; latency, resets, black holes, hang-ups, slicing "+
			"and partitions on those links, one kind at a time, then mixed")
	fs.DurationVar(&cfg.FaultDuration, "fault-duration", 4*time.Second,
		"how long each network fault lasts (a partition, twice that)")
	fs.StringVar(&cfg.ConsumerBin, "consumer", "bin/consumer", "consumer binary")
	fs.StringVar(&cfg.ProducerBin, "producer", "bin/producer", "producer binary (phase 4)")
	logFile := fs.String("log", "", "file for the consumers' output (default: discard)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg.Seed = *seed
	logs, closeLogs, err := devenv.OpenLogs(*logFile)
	if err != nil {
		return err
	}
	defer closeLogs()
	cfg.Logs = logs
	fmt.Fprintf(stderr, "soak: seed %d\n", cfg.Seed)

	res, err := soak.Run(ctx, cfg)
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
