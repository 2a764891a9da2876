// Command devstack runs the embedded local stack (package devenv) in the foreground: a
// Kafka-protocol broker (kfake) on 127.0.0.1:9092 with the topics created, and dynalite, a
// DynamoDB API, on 127.0.0.1:4566 with the table created. Ctrl-C or SIGTERM stops both. No
// Docker needed.
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
	if len(args) == 2 && isHelp(args[1]) {
		return usage(stdout)
	}
	if len(args) > 1 {
		return fmt.Errorf("unexpected arguments %q: the stack is configured with environment variables (-h lists them)", args[1:])
	}
	cfg, err := config.LoadDevStack()
	if err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := devenv.StartStack(startCtx, prefixed(stdout, "dynalite | "), devenv.NewOptions(cfg))
	if err != nil {
		return err
	}
	defer s.Close()

	fmt.Fprintf(stdout, "devstack ready\n%sCtrl-C stops both.\n", s.Describe())
	<-ctx.Done()
	fmt.Fprintln(stdout, "devstack stopping")
	return nil
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func usage(w io.Writer) error {
	fmt.Fprint(w, "Usage: devstack\n\n"+
		"Runs the embedded stack in the foreground until Ctrl-C or SIGTERM: kfake with the topics and\n"+
		"dynalite with the table. The broker keeps everything in memory: a restart empties the topics\n"+
		"and the group's offsets (and the table, unless DYNALITE_DATA is set).\n\n"+
		"It creates the topics and the table the consumer's variables name (TOPIC_NAME, DLQ_TOPIC,\n"+
		"DDB_NAME; see `consumer -h`), and reads these:\n\n")
	return config.Usage(w, &config.Embedded{})
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
