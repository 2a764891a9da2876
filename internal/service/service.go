// Package service is the skeleton both services share: how they stop on a signal, read their
// command line and configuration, set up their logger and tracer, and serve HTTP until they stop,
// so that each main says only what is its own (its dependencies, its routes, its work and its
// shutdown order).
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/logging"
	"github.com/ankitamadan/patient-profile/internal/tracing"
	"github.com/ankitamadan/patient-profile/internal/version"
)

// Command describes a service for its -h.
type Command struct {
	Name string
	// About says what the service does, in a few lines.
	About string
}

// Config is a service's configuration, as far as the skeleton needs it.
type Config interface {
	Observability() (slog.Level, config.Telemetry)
}

// Run is a service's run: it stops on SIGINT or SIGTERM (by cancelling the context serve gets),
// reads the command line (a service takes no arguments; -h prints its variables), loads its
// configuration, sets up its logger and tracer, and calls serve. serve returns once the service
// has stopped; the spans still buffered are then flushed.
func Run[C Config](ctx context.Context, cmd Command, args []string, stdout io.Writer, load func() (C, error),
	serve func(ctx context.Context, cfg C, logger *slog.Logger) error) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var spec C
	if done, err := cmd.parseArgs(args, stdout, &spec); done {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	level, telemetry := cfg.Observability()
	logger := logging.New(stdout, level)
	logger.Info("starting", slog.String("service", cmd.Name), slog.String("version", version.String()))
	stopTracing, err := tracing.Setup(ctx, logger, "patient-profile-"+cmd.Name, telemetry.ExportTraces())
	if err != nil {
		return err
	}
	defer func() {
		// Within a bound of its own: by now ctx is done. A failure is logged, since the
		// service's own outcome does not depend on it.
		flushCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			logger.Warn("flushing traces failed", slog.String("error", err.Error()))
		}
	}()
	return serve(ctx, cfg, logger)
}

// parseArgs reads the command line: -h (or -help, --help) writes the usage, with the variables
// spec reads, to stdout. It reports whether the service should stop there.
func (c Command) parseArgs(args []string, stdout io.Writer, spec any) (done bool, err error) {
	switch {
	case len(args) <= 1:
		return false, nil
	case len(args) == 2 && (args[1] == "-h" || args[1] == "-help" || args[1] == "--help"):
		fmt.Fprintf(stdout, "Usage: %s\n\n%s\n\nVersion: %s\n\nIt takes no arguments. "+
			"These environment variables configure it:\n\n", c.Name, c.About, version.String())
		return true, config.Usage(stdout, spec)
	}
	return true, fmt.Errorf("unexpected arguments %q: the %s is configured with environment variables (-h lists them)",
		args[1:], c.Name)
}

// Server is the service's HTTP server.
type Server struct {
	http *http.Server
	ln   net.Listener
	done chan struct{}
	err  error // why Serve stopped, if not by Shutdown; read only once done is closed
}

// Listen binds port on every interface. writeTimeout bounds writing an answer, and so, since
// handlers run before the answer is written, a whole request.
func Listen(ctx context.Context, port int, h http.Handler, writeTimeout time.Duration) (*Server, error) {
	return ListenOn(ctx, "", port, h, writeTimeout)
}

// ListenOn is Listen on one address (host empty means every interface): the console binds
// loopback only unless told otherwise.
func ListenOn(ctx context.Context, host string, port int, h http.Handler, writeTimeout time.Duration) (*Server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return &Server{
		http: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       time.Minute,
		},
		ln:   ln,
		done: make(chan struct{}),
	}, nil
}

// Addr is where the server listens.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves in the background until Shutdown, or until serving fails, when Done is closed.
func (s *Server) Serve() {
	go func() {
		defer close(s.done)
		if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = fmt.Errorf("serve: %w", err)
		}
	}()
}

// Done is closed once the server has stopped serving.
func (s *Server) Done() <-chan struct{} { return s.done }

// Shutdown stops accepting, waits within ctx for the requests in flight to be answered, and
// returns the error that stopped the server, if it stopped by itself, as well as its own.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		err = fmt.Errorf("shutdown: %w", err)
	}
	select {
	case <-s.done:
		return errors.Join(s.err, err)
	case <-ctx.Done():
		return errors.Join(err, ctx.Err())
	}
}
