package devenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Build compiles the packages (for example "./cmd/consumer") into dir, from the module root.
func Build(ctx context.Context, dir string, race bool, pkgs ...string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkgs...)...) //nolint:gosec // G204: the caller's packages
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %v: %w\n%s", pkgs, err, out)
	}
	return nil
}

// Process is a running binary.
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs bin with only env (plus PATH and HOME) as its environment, output to logs.
func Start(name, bin string, env []string, logs io.Writer) (*Process, error) {
	return start(name, bin, append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...), logs)
}

// StartInheriting runs bin with this process's environment, defaults before it (so that they
// count only where the environment does not set them) and env after it (so that env wins),
// output to logs.
func StartInheriting(name, bin string, defaults, env []string, logs io.Writer) (*Process, error) {
	return start(name, bin, slices.Concat(defaults, os.Environ(), env), logs)
}

func start(name, bin string, env []string, logs io.Writer) (*Process, error) {
	// Stop and Kill end the process, not a context.
	cmd := exec.Command(bin) //nolint:noctx // it outlives any one context
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop asks the process to stop (SIGTERM), gives it up to grace to do so, then kills it. It
// returns the exit error (nil for status 0), that of its own exit if it had already exited.
func (p *Process) Stop(grace time.Duration) error {
	if !p.Exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	return p.err
}

// Wait waits up to d for the process to exit and returns its exit error (nil for status 0).
func (p *Process) Wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		return fmt.Errorf("%s still running after %s", p.Name, d)
	}
}

// Done is closed once the process has exited and all its output has been written to its logs.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitStatus is the status a shell would report for an exit error from Wait or Stop: 0 for nil,
// 128 plus the signal's number for a process killed by a signal.
func ExitStatus(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case !errors.As(err, &exit):
		return 1
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return exit.ExitCode()
}

// WaitHealthy waits until p answers 200 on 127.0.0.1:port/healthz, or p exits first. Another
// process answering on the port does not count: p may have failed to listen because that one
// holds the port, and then p exits.
func WaitHealthy(ctx context.Context, p *Process, port int) error {
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
		if err != nil {
			return fmt.Errorf("healthz request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK && listensOn(p.Pid(), port) {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before answering /healthz on port %d: %w", p.Name, port, p.err)
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer /healthz on port %d: %w", p.Name, port, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listensOn reports whether process pid holds a socket listening on TCP port, from /proc (the
// kernel's socket table in pid's network namespace, and pid's open files). Without /proc it can
// only report whether pid is still running.
func listensOn(pid, port int) bool {
	proc := "/proc/" + strconv.Itoa(pid)
	inodes := map[string]bool{}
	var readable bool
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(proc + "/net/" + table) //nolint:gosec // G304: a /proc table, of a pid of ours
		if err != nil {
			continue
		}
		readable = true
		listening(f, port, inodes)
		_ = f.Close()
	}
	if !readable {
		// A process that has exited, and is not yet reaped, has no tables to read: it listens on
		// nothing. Only where /proc lacks them altogether is "still running" all there is to ask.
		if _, err := os.Stat("/proc/self/net/tcp"); err == nil {
			return false
		}
		return syscall.Kill(pid, 0) == nil
	}
	fds, err := os.ReadDir(proc + "/fd")
	if err != nil {
		return false
	}
	for _, fd := range fds {
		link, err := os.Readlink(proc + "/fd/" + fd.Name())
		if err == nil && inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			return true
		}
	}
	return false
}

// listening adds to inodes the inode of each socket in a /proc/net/tcp table that listens on
// port. A line reads "sl local_address rem_address st ... inode ...", the address as hex
// IP:PORT, the state as hex (0A is LISTEN).
func listening(table io.Reader, port int, inodes map[string]bool) {
	const stateListen = "0A"
	sc := bufio.NewScanner(table)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != stateListen {
			continue
		}
		i := strings.LastIndexByte(f[1], ':')
		if p, err := strconv.ParseUint(f[1][i+1:], 16, 16); err == nil && int(p) == port {
			inodes[f[9]] = true
		}
	}
}
