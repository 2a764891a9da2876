package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
)

// runStack is `make run` (devstack -run) on free ports, in its own process group as a terminal's
// foreground job is.
type runStack struct {
	cmd                                    *exec.Cmd
	logs                                   *logtest.Buffer
	done                                   chan struct{}
	kafka, ddb, producerPort, consumerPort int
	consolePort                            int
}

func startRun(t *testing.T, env ...string) *runStack {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: runs without -short")
	}
	r := &runStack{logs: logtest.New(t), done: make(chan struct{}),
		kafka: devenvtest.FreePort(t), ddb: devenvtest.FreePort(t),
		producerPort: devenvtest.FreePort(t), consumerPort: devenvtest.FreePort(t), consolePort: devenvtest.FreePort(t)}
	// It builds the services as `make run` does, into a directory of its own: the ones in bins
	// serve the other tests.
	r.cmd = exec.Command(bins["devstack"], "-run", "-bin", t.TempDir())
	r.cmd.Env = append(os.Environ(),
		"KAFKA_PORT="+strconv.Itoa(r.kafka), "DDB_PORT="+strconv.Itoa(r.ddb),
		"PRODUCER_PORT="+strconv.Itoa(r.producerPort), "CONSUMER_PORT="+strconv.Itoa(r.consumerPort),
		"CONSOLE_PORT="+strconv.Itoa(r.consolePort))
	r.cmd.Env = append(r.cmd.Env, env...)
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, r.cmd.Start())
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		// devstack stops everything it started on SIGTERM, dynalite included (which is in a
		// process group of its own); SIGKILL to the group is the last resort.
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
	})
	return r
}

// waitFor waits until the output contains s, or devstack exits.
func (r *runStack) waitFor(t *testing.T, s string, within time.Duration) bool {
	t.Helper()
	deadline := time.After(within)
	for !strings.Contains(r.logs.String(), s) {
		select {
		case <-r.done:
			return strings.Contains(r.logs.String(), s)
		case <-deadline:
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return true
}

func (r *runStack) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return r.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		require.FailNow(t, "devstack still running", "after %s", within)
		return -1
	}
}

// Ctrl-C in a terminal sends SIGINT to the whole foreground process group. Every service must
// get to run its own graceful shutdown: the consumer's final commit, the producer's in-flight
// requests. A line-prefixing helper that died first used to kill them with SIGPIPE.
func TestRunStopsGracefullyOnCtrlC(t *testing.T) {
	// Only the final commit commits: proof that the consumer's shutdown ran to its end.
	r := startRun(t, "COMMIT_INTERVAL=1h")
	require.True(t, r.waitFor(t, "Everything is up", 5*time.Minute), "no banner")

	resp, err := postProfile(r.producerPort, "ctrl-c")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", r.consumerPort)
	require.Eventually(t, func() bool {
		resp, err := http.Get(metrics)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return strings.Contains(b.String(), `patient_profile_consumer_events_total{outcome="applied"} 1`)
	}, 20*time.Second, 50*time.Millisecond, "the event was not applied")
	brokers := []string{"127.0.0.1:" + strconv.Itoa(r.kafka)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := broker.Lag(ctx, broker.Cluster{Brokers: brokers}, "consultation", "patient.profile.updated")
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "COMMIT_INTERVAL=1h: nothing committed before the stop")

	require.NoError(t, syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT))
	assert.Equal(t, 0, r.wait(t, 30*time.Second), "exit status after a clean stop")

	out := r.logs.String()
	for _, line := range []string{`"msg":"producer stopped"`, `"msg":"consumer stopped"`, `"msg":"console stopped"`,
		"devstack stopping"} {
		assert.Contains(t, out, line)
	}
	assert.Regexp(t, `"msg":"stopped consuming","applied":1,.*"commits":1\}`, out, "the final commit")
	assert.NotContains(t, out, "final commit failed")
	assert.NotContains(t, out, "exited with status")
}

// The banner promises a working stack: a service that could not start must be named, with why,
// instead. Here another process holds the producer's port and even answers its /healthz.
func TestRunSaysWhichServiceDidNotStart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs without -short")
	}
	ln, err := net.Listen("tcp", ":0")
	require.NoError(t, err)
	impostor := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go func() { _ = impostor.Serve(ln) }()
	t.Cleanup(func() { _ = impostor.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	r := startRun(t, "PRODUCER_PORT="+strconv.Itoa(port))
	assert.NotEqual(t, 0, r.wait(t, 5*time.Minute), "exit status")
	out := r.logs.String()
	assert.NotContains(t, out, "Everything is up")
	assert.Contains(t, out, "producer did not start (exited with status 1). Its last line:\n"+
		"  producer: listen: listen tcp :"+strconv.Itoa(port)+": bind: address already in use")
	assert.Contains(t, out, `"msg":"consumer stopped"`, "the others are stopped")
	assert.Contains(t, out, "devstack stopping")
}
