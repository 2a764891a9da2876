package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
)

// ModuleRoot walks up from the working directory to the directory holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// OpenLogs opens the file the stack's processes write their output to: path, or nowhere when
// path is empty. closeLogs closes it; a log cut short loses nothing a run reports.
func OpenLogs(path string) (logs io.Writer, closeLogs func(), err error) {
	if path == "" {
		return io.Discard, func() {}, nil
	}
	f, err := os.Create(path) //nolint:gosec // G304: the operator names the log file, on purpose
	if err != nil {
		return nil, nil, fmt.Errorf("open logs: %w", err)
	}
	return f, func() { _ = f.Close() }, nil
}
