// Command replay-dlq publishes dead letters back to the event topic once a person has fixed what
// parked them. It reads the whole dead-letter topic (DLQ_TOPIC), chooses dead letters with its
// flags, and publishes each one's original key, value and headers to TOPIC_NAME, marked with
// dlq-replayed-from and replay-source. The consumer applies them under the ordering rule, so
// running it twice, or replaying an event that was already applied, changes nothing. The
// connection is configured by the same environment variables as the consumer; see the README.
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
	"regexp"
	"syscall"
	"time"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/replay"
	"github.com/ankitamadan/patient-profile/internal/version"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "replay-dlq: %s\n", err)
		os.Exit(1)
	}
}

// run replays what the flags in args choose and writes one line per chosen dead letter, then a
// summary, to stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rc, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg, err := config.LoadReplay()
	if err != nil {
		return err
	}
	rc.Topic = cfg.Topic
	cluster, err := broker.NewCluster(cfg.Brokers, broker.Security(cfg.KafkaSecurity), cfg.Redirect())
	if err != nil {
		return err
	}
	w := broker.NewWriter(cluster, cfg.Topic)
	read := func(ctx context.Context, fn func(message.Message) error) error {
		return broker.ReadTopic(ctx, cluster, cfg.DLQTopic, fn)
	}

	mode := "replaying to " + cfg.Topic
	if rc.DryRun {
		mode = "dry run: nothing is published to " + cfg.Topic
	}
	fmt.Fprintf(stdout, "reading %s from the start of each partition; %s\n", cfg.DLQTopic, mode)
	sum, runErr := replay.Run(ctx, rc, read, w, stdout)
	fmt.Fprintf(stdout, "summary: %s\n", sum)

	// Every publish waited for its acks, so Close has nothing left to flush: it only closes the
	// connections. A fresh context, in case ctx was cancelled.
	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(runErr, w.Close(closeCtx))
}

// parseFlags reads what to replay. Usage goes to stdout, for -h.
func parseFlags(args []string, stdout io.Writer) (replay.Config, error) {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: %s [flags]\n\n"+
			"Publishes dead letters from DLQ_TOPIC back to TOPIC_NAME. Filters combine: a dead letter must match all\n"+
			"that are given. Partition and offsets are the original event's (dlq-source-partition,\n"+
			"dlq-source-offset).\n\nVersion: %s\n\n", args[0], version.String())
		fs.PrintDefaults()
	}
	var (
		rc                   = replay.Config{Filter: replay.All}
		offset, from, to     int64
		errText, errRE, edit string
	)
	fs.BoolVar(&rc.DryRun, "dry-run", false, "list what would be replayed and why each was parked; publish nothing")
	fs.IntVar(&rc.Filter.Partition, "partition", -1, "only dead letters from this source partition")
	fs.Int64Var(&offset, "offset", -1, "only the dead letter from this source offset (needs -partition)")
	fs.Int64Var(&from, "from", -1, "only source offsets from this one on, inclusive (needs -partition)")
	fs.Int64Var(&to, "to", -1, "only source offsets up to this one, inclusive (needs -partition)")
	fs.StringVar(&rc.Filter.Patient, "patient", "", "only this patient (the message key)")
	fs.StringVar(&errText, "error", "", "only dead letters whose dlq-error contains this text")
	fs.StringVar(&errRE, "error-regexp", "", "only dead letters whose dlq-error matches this regular expression (RE2)")
	fs.StringVar(&edit, "edit", "",
		"replace the value of the one chosen dead letter with this file's contents: a valid event for the same patient")
	if err := fs.Parse(args[1:]); err != nil {
		return rc, err
	}
	if fs.NArg() > 0 {
		return rc, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if offset >= 0 {
		if from >= 0 || to >= 0 {
			return rc, errors.New("-offset is one offset: use it without -from and -to")
		}
		from, to = offset, offset
	}
	rc.Filter.From, rc.Filter.To = from, to
	if err := rc.Filter.Check(); err != nil {
		return rc, err
	}
	if errText != "" && errRE != "" {
		return rc, errors.New("-error and -error-regexp: give one")
	}
	switch {
	case errText != "":
		rc.Filter.Error = regexp.MustCompile(regexp.QuoteMeta(errText))
	case errRE != "":
		re, err := regexp.Compile(errRE)
		if err != nil {
			return rc, fmt.Errorf("-error-regexp: %w", err)
		}
		rc.Filter.Error = re
	}
	if edit != "" {
		v, err := os.ReadFile(edit) //nolint:gosec // G304: the operator names the file to read, on purpose
		if err != nil {
			return rc, fmt.Errorf("-edit: %w", err)
		}
		// An editor's trailing newline is not part of the event.
		rc.Edit = bytes.TrimSpace(v)
	}
	return rc, nil
}
