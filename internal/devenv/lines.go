package devenv

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// Console is one output that several processes write to, a line at a time, each line marked
// with the name of the process that wrote it.
type Console struct {
	mu sync.Mutex
	w  io.Writer
}

// NewConsole returns a Console writing to w.
func NewConsole(w io.Writer) *Console { return &Console{w: w} }

// Write writes p as it is, between lines of the processes.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Write(p)
}

// Lines returns the writer for the output of the process called name.
func (c *Console) Lines(name string) *Lines {
	return &Lines{console: c, prefix: fmt.Sprintf("%-9s| ", name)}
}

// Lines writes each whole line written to it to its Console, after its process's name, and
// keeps the last one, to say why the process stopped.
//
// Write never fails, even when the console does: os/exec stops copying a child's output at the
// first error and closes the pipe, and the child's next line would kill it with SIGPIPE, in the
// middle of its graceful stop.
type Lines struct {
	console *Console
	prefix  string

	mu      sync.Mutex
	partial []byte
	last    string
}

// Write writes the whole lines of p and holds a line's unfinished end until the rest comes.
func (l *Lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.partial = append(l.partial, p...)
			return n, nil
		}
		l.partial = append(l.partial, p[:i]...)
		l.emit()
		p = p[i+1:]
	}
}

// Flush writes an unfinished last line, once its process has exited.
func (l *Lines) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.emit()
	}
}

// Last is the last line written, without its name; empty if there was none.
func (l *Lines) Last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

func (l *Lines) emit() {
	l.last = string(l.partial)
	_, _ = l.console.Write([]byte(l.prefix + l.last + "\n"))
	l.partial = l.partial[:0]
}
