// Command devstack runs the embedded local stack (package devenv) in the foreground: a
// Kafka-protocol broker (kfake) on 127.0.0.1:9092 and dynalite, a DynamoDB API, on
// 127.0.0.1:4566, with the topics and the table created. No Docker needed.
//
// It runs the console (cmd/console) beside it, on http://localhost:8080. With -run it also runs
// the consumer and the producer (`make run`). With -provision
// it starts nothing and instead creates the same topics and table wherever the environment says
// (`make compose-up`, for the Docker stack).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/idempotency"
	"github.com/ankitamadan/patient-profile/internal/store"
)

func main() {
	err := run(context.Background(), os.Args, os.Stdout)
	var exit *devenv.ExitError
	switch {
	case errors.As(err, &exit):
		// It names the process and says why, in full, below that process's last lines.
		fmt.Fprintf(os.Stderr, "\n%s\n", exit)
		os.Exit(exit.Code)
	case err != nil:
		fmt.Fprintf(os.Stderr, "devstack: %s\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	// SIGHUP too: a closed terminal stops the services gracefully, as Ctrl-C does.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// A reader of the output that goes first (`make run | tee run.log`, Ctrl-C'd) must not kill
	// this process with SIGPIPE while it stops the services: writes fail instead, and Console
	// carries on.
	signal.Ignore(syscall.SIGPIPE)

	flags := flag.NewFlagSet("devstack", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	services := flags.Bool("run", false,
		"run the consumer and the producer beside the stack and the console, as make run does")
	provision := flags.Bool("provision", false,
		"start nothing: create the topics and the table on KAFKA_BROKERS and DDB_HOST instead, as make compose-up does")
	bin := flags.String("bin", "",
		"build the console (and with -run the producer and the consumer) into `DIR` (default: bin/ in the module)")
	switch err := flags.Parse(args[1:]); {
	case errors.Is(err, flag.ErrHelp):
		return usage(stdout, flags)
	case err != nil:
		return fmt.Errorf("%w (-h lists the flags)", err)
	case flags.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q: the stack is configured with environment variables (-h lists them)",
			flags.Args())
	case *services && *provision:
		return errors.New("-run and -provision exclude each other")
	}

	cfg, err := config.LoadDevStack()
	if err != nil {
		return err
	}
	if *provision {
		return provisionEnv(ctx, stdout, cfg)
	}
	return runAll(ctx, stdout, cfg, *bin, *services)
}

func usage(w io.Writer, flags *flag.FlagSet) error {
	fmt.Fprint(w, "Usage: devstack [-run] [-bin DIR] | -provision\n\n"+
		"Runs the embedded stack in the foreground until Ctrl-C or SIGTERM: kfake with the topics,\n"+
		"dynalite with the table, and the console on CONSOLE_PORT. The broker keeps everything in\n"+
		"memory: a restart empties the topics and the group's offsets (and the table, unless\n"+
		"DYNALITE_DATA is set).\n\n")
	flags.SetOutput(w)
	flags.PrintDefaults()
	fmt.Fprint(w, "\nIt creates the topics and the table the consumer's variables name (TOPIC_NAME, DLQ_TOPIC,\n"+
		"DDB_NAME; see `consumer -h`), and passes every variable on to the services. It reads these:\n\n")
	return config.Usage(w, &config.Embedded{})
}

func startStack(ctx context.Context, console *devenv.Console, cfg config.DevStack) (*devenv.Stack, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return devenv.StartStack(ctx, console.Lines("dynalite"), devenv.NewOptions(cfg))
}

// runAll is `make run` (with services) and `make local-dev-stack` (without): the stack, then the
// console, and with services the consumer and the producer first, each line of output marked
// with the name of the process that wrote it. The processes stop before the stack, so that the
// consumer's final commit and its leaving the group reach the broker.
func runAll(ctx context.Context, stdout io.Writer, cfg config.DevStack, bin string, services bool) error {
	console := devenv.NewConsole(stdout)
	self := console.Lines("devstack")
	if bin == "" {
		root, err := devenv.ModuleRoot()
		if err != nil {
			return err
		}
		bin = filepath.Join(root, "bin")
	}
	pkgs := []string{"./cmd/console"}
	what := "the console"
	if services {
		pkgs, what = append(pkgs, "./cmd/producer", "./cmd/consumer"), "the producer, the consumer and the console"
	}
	fmt.Fprintf(self, "building %s into %s\n", what, bin)
	if err := devenv.Build(ctx, bin, false, pkgs...); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s, err := startStack(ctx, console, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer func() {
		fmt.Fprintln(self, "devstack stopping")
		s.Close()
	}()
	fmt.Fprintf(self, "devstack ready\n%s", s.Describe())

	// The services use this stack unless KAFKA_BROKERS or DDB_HOST send them elsewhere; every
	// other variable reaches them as it is, but SERVER_PORT, which the two cannot share.
	defaults := []string{"KAFKA_BROKERS=localhost:" + strconv.Itoa(cfg.KafkaPort)}
	var ddb []string
	if cfg.Store.Host == "" {
		ddb = []string{"DDB_HOST=http://localhost:" + strconv.Itoa(cfg.DynamoDBPort)}
	}
	service := func(name string, port int) devenv.Service {
		return devenv.Service{Name: name, Bin: filepath.Join(bin, name), Port: port,
			Defaults: defaults, Env: append(slices.Clone(ddb), "SERVER_PORT="+strconv.Itoa(port))}
	}
	var run []devenv.Service
	if services {
		run = append(run, service("consumer", cfg.ConsumerPort), service("producer", cfg.ProducerPort))
	}
	run = append(run, consoleService(cfg, bin, defaults, ddb))
	up := func() { fmt.Fprint(console, stackBanner(cfg)) }
	if services {
		up = func() { fmt.Fprint(console, banner(cfg)) }
	}
	return devenv.RunServices(ctx, console, run, up)
}

// consoleService is the console on CONSOLE_PORT, shown the producer and the consumer this stack
// runs, and, when the producer takes tokens, sending the first of API_TOKENS from its form.
func consoleService(cfg config.DevStack, bin string, defaults, ddb []string) devenv.Service {
	defaults = slices.Concat(defaults, []string{
		"CONSOLE_PRODUCER_URL=http://localhost:" + strconv.Itoa(cfg.ProducerPort),
		"CONSOLE_CONSUMER_URL=http://localhost:" + strconv.Itoa(cfg.ConsumerPort),
	})
	if len(cfg.APITokens) > 0 {
		defaults = append(defaults, "CONSOLE_API_TOKEN="+cfg.APITokens[0])
	}
	return devenv.Service{Name: "console", Bin: filepath.Join(bin, "console"), Port: cfg.ConsolePort,
		Defaults: defaults, Env: slices.Clone(ddb)}
}

// stackBanner says that the stack and the console are up, for `make local-dev-stack`.
func stackBanner(cfg config.DevStack) string {
	return fmt.Sprintf("\nThe stack is up. Open the console: http://localhost:%d\n"+
		"Run the services against it (make run-producer, make run-consumer). Ctrl-C stops everything.\n\n",
		cfg.ConsolePort)
}

// banner says that everything is up, and how to try it.
func banner(cfg config.DevStack) string {
	auth := "Authentication is ON: POST needs -H 'Authorization: Bearer <token>'"
	if len(cfg.APITokens) == 0 && cfg.APITokensFile == "" {
		auth = fmt.Sprintf("Authentication is OFF: anyone who reaches :%d can write "+
			"(set API_TOKENS or API_TOKENS_FILE)", cfg.ProducerPort)
	}
	return fmt.Sprintf(`
Everything is up. %s
Open the console: http://localhost:%d

Try it:

  curl -i -X POST localhost:%d/patientprofile -H 'Content-Type: application/json' \
    -d '{"PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":"False","Sex":"Female"}'

  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1 \
    aws dynamodb scan --endpoint-url=http://localhost:%d --table-name %s

Ctrl-C stops everything.

`, auth, cfg.ConsolePort, cfg.ProducerPort, cfg.DynamoDBPort, cfg.Table)
}

// provisionEnv creates the topics and the table of the embedded stack on the broker and the
// DynamoDB endpoint the environment names, through the code the embedded stack runs.
func provisionEnv(ctx context.Context, stdout io.Writer, cfg config.DevStack) error {
	if cfg.Store.Host == "" {
		// Empty means real AWS, where the table belongs to your infrastructure code.
		return errors.New("-provision needs DDB_HOST, the endpoint of a local DynamoDB (http://localhost:4566)")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cluster, err := broker.NewCluster(cfg.Brokers, broker.Security(cfg.KafkaSecurity), cfg.Redirect())
	if err != nil {
		return err
	}
	client, err := store.NewClient(ctx, cfg.Store.Host, cfg.Region, 1)
	if err != nil {
		return err
	}
	ttl, keyTTL := "TTL on "+store.AttrExpiresAt, "TTL on "+idempotency.AttrExpiresAt
	err = devenv.Provision(ctx, cluster, client, cfg.Table, cfg.KeyTable, cfg.Topic, cfg.DLQTopic)
	if errors.Is(err, store.ErrNoTTL) {
		ttl, err = "no TTL: the endpoint has none, so tombstones will not expire", nil
		keyTTL = "no TTL: expired keys stay in the table, and count as absent"
	}
	if err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	fmt.Fprintf(stdout, "topics %s, %s on %s: %d partitions each where created\ntable %s on %s: %s\n",
		cfg.Topic, cfg.DLQTopic, strings.Join(cfg.Brokers, ","), devenv.Partitions, cfg.Table, cfg.Store.Host, ttl)
	if cfg.KeyTable != "" {
		fmt.Fprintf(stdout, "table %s (Idempotency-Keys) on %s: %s\n", cfg.KeyTable, cfg.Store.Host, keyTTL)
	}
	return nil
}
