package devenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Dynalite is a running dynalite server.
type Dynalite struct {
	cmd  *exec.Cmd
	Addr string // host:port
	done chan struct{}
	err  error
}

// Endpoint is the URL to give DDB_HOST.
func (d *Dynalite) Endpoint() string { return "http://" + d.Addr }

// StartDynalite spawns dynalite bound to 127.0.0.1:port (0 picks a free port). With dataDir
// empty it keeps its data in memory. Output goes to logs. It returns once the server accepts
// connections.
func StartDynalite(ctx context.Context, port int, dataDir, bin string, logs io.Writer) (*Dynalite, error) {
	command, err := dynaliteCommand(bin)
	if err != nil {
		return nil, err
	}
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"--host", "127.0.0.1", "--port", strconv.Itoa(port),
		// Real DynamoDB takes a while to create a table; the stack and tests don't need to.
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"}
	if dataDir != "" {
		args = append(args, "--path", dataDir)
	}
	// The stack's own child (G204), stopped by Stop rather than by a context.
	cmd := exec.Command(command[0], append(command[1:], args...)...) //nolint:gosec,noctx // see above
	cmd.Stdout, cmd.Stderr = logs, logs
	// Its own process group, so that a Ctrl-C meant for us is handled by us (we stop it), and
	// Pdeathsig, so that it dies with us even if we are killed with SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	d := &Dynalite{cmd: cmd, Addr: addr, done: make(chan struct{})}
	go func() { d.err = cmd.Wait(); close(d.done) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		dialer := net.Dialer{Timeout: 200 * time.Millisecond}
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = conn.Close()
			return d, nil
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("dynalite exited before listening on %s: %w", addr, d.err)
		case <-ctx.Done():
			d.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("dynalite did not listen on %s within 30s", addr)
		}
	}
}

// Stop terminates dynalite and waits for it to exit.
func (d *Dynalite) Stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(3 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// Pause freezes dynalite (SIGSTOP): connections are accepted by the kernel but never answered,
// which is what a hung store looks like to a client. Resume undoes it.
func (d *Dynalite) Pause() error { return d.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused dynalite.
func (d *Dynalite) Resume() error { return d.cmd.Process.Signal(syscall.SIGCONT) }

// dynaliteCommand is how to start dynalite: bin (DYNALITE_BIN) if set, else node running
// devstack/dynalite.js, which wraps the CLI of the dynalite that devstack/package-lock.json pins
// so that a client disconnecting mid-request does not crash it.
func dynaliteCommand(bin string) ([]string, error) {
	if bin != "" {
		return []string{bin}, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "devstack", "node_modules", "dynalite", "cli.js")); err != nil {
		return nil, fmt.Errorf("dynalite is not installed in %s: run `make deps` (npm ci in devstack/)",
			filepath.Join(root, "devstack"))
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("dynalite needs Node.js: %w", err)
	}
	return []string{node, filepath.Join(root, "devstack", "dynalite.js")}, nil
}
