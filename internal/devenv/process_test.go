package devenv_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
)

// The test binary, started again with DEVENV_HELPER_PORT set, is a service for the tests below: it
// answers /healthz on that port, exits with DEVENV_HELPER_EXIT DEVENV_HELPER_AFTER after it first
// answered (so that a busy machine, slow to start its neighbour, cannot make it exit before it was
// seen up), and exits with DEVENV_HELPER_STOP (default 0) on SIGTERM or SIGINT.
func TestMain(m *testing.M) {
	if port := os.Getenv("DEVENV_HELPER_PORT"); port != "" {
		os.Exit(helper(port))
	}
	os.Exit(m.Run())
}

func helper(port string) int {
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper: listen: %v\n", err)
		return 1
	}
	answered := make(chan struct{})
	var once sync.Once
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { once.Do(func() { close(answered) }) }))
	}()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	after, err := time.ParseDuration(os.Getenv("DEVENV_HELPER_AFTER"))
	if err != nil {
		after = time.Hour
	}
	fmt.Println("helper serving")
	exit := make(chan struct{})
	go func() {
		<-answered
		time.Sleep(after)
		close(exit)
	}()
	select {
	case <-ctx.Done():
		status, _ := strconv.Atoi(os.Getenv("DEVENV_HELPER_STOP"))
		return status
	case <-exit:
		status, _ := strconv.Atoi(os.Getenv("DEVENV_HELPER_EXIT"))
		fmt.Printf("helper exiting with %d\n", status)
		return status
	}
}

// script writes a shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script")
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return path
}

// impostor answers 200 on every path, /healthz included, on a port of its own, and returns it.
func impostor(t *testing.T) int {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// What answers /healthz must be the process itself: one that could not listen, because another
// holds its port, may leave that other answering.
func TestWaitHealthy(t *testing.T) {
	tests := []struct {
		name string
		// start returns the process and the port to wait on.
		start   func(t *testing.T) (*devenv.Process, int)
		wantErr string
	}{
		{name: "it answers", start: func(t *testing.T) (*devenv.Process, int) {
			port := devenvtest.FreePort(t)
			p, err := devenv.Start("helper", os.Args[0], []string{"DEVENV_HELPER_PORT=" + strconv.Itoa(port)}, os.Stderr)
			require.NoError(t, err)
			return p, port
		}},
		{name: "another process answers", start: func(t *testing.T) (*devenv.Process, int) {
			p, err := devenv.Start("sleeper", script(t, "exec sleep 30"), nil, os.Stderr)
			require.NoError(t, err)
			return p, impostor(t)
		}, wantErr: "sleeper did not answer /healthz"},
		{name: "it exits", start: func(t *testing.T) (*devenv.Process, int) {
			p, err := devenv.Start("quitter", script(t, "exit 3"), nil, os.Stderr)
			require.NoError(t, err)
			return p, devenvtest.FreePort(t)
		}, wantErr: "quitter exited before answering /healthz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, port := tt.start(t)
			t.Cleanup(p.Kill)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err := devenv.WaitHealthy(ctx, p, port)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestStop(t *testing.T) {
	// Short sleeps, so that the shell runs its trap soon and leaves no sleep behind holding the
	// test's output open.
	const idle = "while :; do sleep 0.1; done"
	tests := []struct {
		name       string
		body       string
		grace      time.Duration
		wantStatus int
	}{
		{name: "stops when asked", body: "trap 'exit 0' TERM\n" + idle, grace: 10 * time.Second, wantStatus: 0},
		{name: "stops badly when asked", body: "trap 'exit 4' TERM\n" + idle, grace: 10 * time.Second, wantStatus: 4},
		{name: "killed after the grace", body: "trap '' TERM\nexec sleep 30", grace: 300 * time.Millisecond,
			wantStatus: 128 + 9},
		{name: "had exited by itself", body: "exit 3", grace: 10 * time.Second, wantStatus: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := devenv.Start(tt.name, script(t, tt.body), nil, os.Stderr)
			require.NoError(t, err)
			t.Cleanup(p.Kill)
			// Let the shell set its trap before the signal comes.
			time.Sleep(200 * time.Millisecond)
			began := time.Now()
			assert.Equal(t, tt.wantStatus, devenv.ExitStatus(p.Stop(tt.grace)))
			assert.Less(t, time.Since(began), tt.grace+2*time.Second)
		})
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "success", err: nil, want: 0},
		{name: "an exit status", err: exec.Command("sh", "-c", "exit 7").Run(), want: 7},
		{name: "a signal", err: exec.Command("sh", "-c", "kill -TERM $$").Run(), want: 128 + 15},
		{name: "not an exit", err: errors.New("no such file"), want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, devenv.ExitStatus(tt.err))
		})
	}
}
