// Package e2e's tests drive the real binaries against the embedded stack (package devenv): they
// build them, run them as child processes, stop or kill them and the stack's pieces, and check
// what clients, the broker and the table see.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
)

// bins holds the binaries under test, built once, with the race detector: the services, the
// replay command, the console, and devstack, which `make run` runs.
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
	err = devenv.Build(ctx, dir, true, "./cmd/producer", "./cmd/consumer", "./cmd/replay-dlq", "./cmd/console",
		"./devstack")
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins["producer"], bins["consumer"] = dir+"/producer", dir+"/consumer"
	bins["replay-dlq"], bins["devstack"] = dir+"/replay-dlq", dir+"/devstack"
	bins["console"] = dir + "/console"
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func startStack(t *testing.T, logs *logtest.Buffer, opts ...func(*devenv.Options)) *devenv.Stack {
	t.Helper()
	return devenvtest.Stack(t, logs, opts...)
}

// start runs a binary for the rest of the test and waits until it answers /healthz on port.
func start(t *testing.T, name string, env []string, port int, logs *logtest.Buffer) *devenv.Process {
	t.Helper()
	p, err := devenv.Start(name, bins[name], env, logs)
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, devenv.WaitHealthy(ctx, p, port))
	return p
}

// waitNoLag waits until the group has committed every message of the topic.
func waitNoLag(t *testing.T, s *devenv.Stack, within time.Duration) {
	t.Helper()
	require.NoError(t, s.WaitNoLag(context.Background(), within))
}
