package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/devenv"
)

// bins holds the binaries under test, built once, with the race detector.
var bins = map[string]string{}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "patient-profile-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	err = Build(ctx, dir, true, "./cmd/producer", "./cmd/consumer")
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins["producer"], bins["consumer"] = dir+"/producer", dir+"/consumer"
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logBuffer collects child output and shows it only if the test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogs(t *testing.T) *logBuffer {
	l := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child process output:\n%s", l.String())
		}
	})
	return l
}

func startStack(t *testing.T, logs *logBuffer) *Stack {
	t.Helper()
	return startStackWith(t, logs, StackOptions{})
}

func startStackWith(t *testing.T, logs *logBuffer, opts StackOptions) *Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: runs without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := StartStack(ctx, logs, opts)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// start runs a binary for the rest of the test and waits until it answers /healthz on port.
func start(t *testing.T, name string, env []string, port int, logs *logBuffer) *Process {
	t.Helper()
	p, err := Start(name, bins[name], env, logs)
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "%s did not answer /healthz", name)
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := devenv.FreePort()
	require.NoError(t, err)
	return p
}

// waitNoLag waits until the group has committed every message of the topic.
func waitNoLag(t *testing.T, s *Stack, within time.Duration) {
	t.Helper()
	var last int64 = -1
	var lastErr error
	ok := assertEventually(within, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		last, lastErr = Lag(ctx, s.Brokers, s.Group, s.Topic)
		return lastErr == nil && last == 0
	})
	require.True(t, ok, "group still has lag %d (err %v) after %s", last, lastErr, within)
}

func assertEventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}
