// Package service is the skeleton both services share: how they read their command line, set up
// their logger and tracer, and serve HTTP until they stop, so that each main says only what is
// its own (its dependencies, its routes, its work and its shutdown order).
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/logging"
	"github.com/ankitamadan/patient-profile/internal/tracing"
)

// Command describes a service for its -h.
type Command struct {
	Name string
	// About says what the service does, in a few lines.
	About string
	// Spec is a pointer to the service's configuration struct, whose variables -h lists.
	Spec any
}

// ParseArgs reads the command line: a service takes no arguments, only -h (or -help, --help),
// which writes the usage to stdout. It reports whether the service should stop there.
func (c Command) ParseArgs(args []string, stdout io.Writer) (done bool, err error) {
	switch {
	case len(args) <= 1:
		return false, nil
	case len(args) == 2 && (args[1] == "-h" || args[1] == "-help" || args[1] == "--help"):
		return true, c.usage(stdout)
	}
	return true, fmt.Errorf("unexpected arguments %q: the %s is configured with environment variables (-h lists them)",
		args[1:], c.Name)
}

func (c Command) usage(w io.Writer) error {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nIt takes no arguments. These environment variables configure it:\n\n", c.Name, c.About)
	return config.Usage(w, c.Spec)
}

// Telemetry is the service's JSON logger, and traces that go wherever cfg says.
type Telemetry struct {
	Logger *slog.Logger
	stop   func(context.Context) error
}

// StartTelemetry makes the logger (to stdout, at level) and installs the tracer of the service
// called name.
func StartTelemetry(ctx context.Context, stdout io.Writer, name string, level slog.Level, cfg config.Telemetry) (Telemetry, error) {
	logger := logging.New(stdout, level)
	stop, err := tracing.Setup(ctx, logger, name, cfg.ExportTraces())
	if err != nil {
		return Telemetry{}, err
	}
	return Telemetry{Logger: logger, stop: stop}, nil
}

// Flush sends the spans still buffered, within a bound of its own: by then the service's context
// is done. A failure is logged, since the service's own outcome does not depend on it.
func (t Telemetry) Flush() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := t.stop(ctx); err != nil {
		t.Logger.Warn("flushing traces failed", slog.String("error", err.Error()))
	}
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
func Listen(port int, h http.Handler, writeTimeout time.Duration) (*Server, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
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
