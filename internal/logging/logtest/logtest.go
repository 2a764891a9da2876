// Package logtest collects what loggers and child processes write, for tests to read.
package logtest

import (
	"bufio"
	"bytes"
	"sync"
	"testing"
)

// Buffer is a log sink that several goroutines, or child processes, write to at once.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// New returns a Buffer whose content is written to the test's log if the test fails.
func New(t testing.TB) *Buffer {
	t.Helper()
	b := &Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log output:\n%s", b.String())
		}
	})
	return b
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines is everything written so far, a line each.
func (b *Buffer) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	s := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		out = append(out, s.Text())
	}
	return out
}
