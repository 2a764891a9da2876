package devenv

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// StopGrace is how long a service gets to stop after SIGTERM before it is killed: longer than
// its own bound on a graceful stop (SHUTDOWN_TIMEOUT, 10 s by default), so that the consumer's
// final commit and its leaving the group are not cut short.
const StopGrace = 15 * time.Second

// signalGrace is how long a service's exit waits for a signal to this process that may have
// caused it, before it counts as the service exiting by itself.
const signalGrace = time.Second

// healthTimeout is how long a service may take to answer /healthz once started.
const healthTimeout = 30 * time.Second

// Service is a binary that RunServices runs.
type Service struct {
	Name, Bin string
	// Port is where it serves /healthz.
	Port int
	// Its environment is this process's, with Defaults where that does not set them, and Env
	// over it.
	Defaults, Env []string
}

// ExitError ends a run in which a service did not start, exited by itself or stopped badly.
// Its message names the service and says why, whole; Code is the status to exit with.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// child is a started service.
type child struct {
	Service
	p     *Process
	lines *Lines
}

// status says how c stands, as "running" or "exited with status N".
func (c *child) status() string {
	if !c.p.Exited() {
		return "running"
	}
	return fmt.Sprintf("exited with status %d", ExitStatus(c.p.err))
}

// RunServices starts the services, their output through console, and waits until each, in
// order, answers its own /healthz and is still running; then it calls up and runs until ctx is
// done or one of them exits by itself. Either way it stops them all (Process.Stop, with
// StopGrace) before it returns: they share this process's group, so after a Ctrl-C they are
// already stopping by themselves, and SIGTERM only hurries one that is not.
//
// It returns nil if each stopped cleanly, and otherwise an *ExitError: a service that did not
// start, with its last line (status 1), or one that exited by itself (its status), and any that
// stopped badly (status 1).
func RunServices(ctx context.Context, console *Console, services []Service, up func()) error {
	var children []*child
	for _, s := range services {
		lines := console.Lines(s.Name)
		p, err := StartInheriting(s.Name, s.Bin, s.Defaults, s.Env, lines)
		if err != nil {
			return stopAll(children, nil, &ExitError{Code: 1, Msg: err.Error()})
		}
		children = append(children, &child{Service: s, p: p, lines: lines})
	}
	for _, c := range children {
		hctx, cancel := context.WithTimeout(ctx, healthTimeout)
		err := WaitHealthy(hctx, c.p, c.Port)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return stopAll(children, nil, nil)
		case c.p.Exited():
			return stopAll(children, c, didNotStart(c, "did not start"))
		default:
			what := fmt.Sprintf("did not answer /healthz on port %d within %s", c.Port, healthTimeout)
			return stopAll(children, c, didNotStart(c, what))
		}
	}
	// One that answered first may have stopped while the next was still starting.
	for _, c := range children {
		if c.p.Exited() {
			return stopAll(children, c, didNotStart(c, "did not start"))
		}
	}
	up()

	exited := make(chan *child, len(children))
	for _, c := range children {
		go func() { <-c.p.Done(); exited <- c }()
	}
	select {
	case <-ctx.Done():
		return stopAll(children, nil, nil)
	case c := <-exited:
		// The Ctrl-C that reached us reached it too, and it stopped as asked. A service that stops
		// at once (the console takes a millisecond) can be seen gone before our own handler has
		// cancelled ctx, so the signal gets a moment to arrive.
		select {
		case <-ctx.Done():
			return stopAll(children, nil, nil)
		case <-time.After(signalGrace):
		}
		status := ExitStatus(c.p.err)
		exit := &ExitError{Code: status, Msg: fmt.Sprintf("%s exited with status %d", c.Name, status)}
		return stopAll(children, c, exit)
	}
}

// didNotStart says that c did not come up, and why: its status and its last line.
func didNotStart(c *child, what string) *ExitError {
	c.lines.Flush()
	last := c.lines.Last()
	if last == "" {
		last = "(none)"
	}
	return &ExitError{Code: 1, Msg: fmt.Sprintf("%s %s (%s). Its last line:\n  %s", c.Name, what, c.status(), last)}
}

// stopAll stops every child at once and waits for each. reason, if not nil, is why the run ends,
// on account of culprit, whose own exit it already tells. It returns reason with a line added
// for each other child that stopped badly, or nil if none did and there was no reason.
func stopAll(children []*child, culprit *child, reason *ExitError) error {
	errs := make([]error, len(children))
	var wg sync.WaitGroup
	for i, c := range children {
		wg.Go(func() {
			errs[i] = c.p.Stop(StopGrace)
			c.lines.Flush()
		})
	}
	wg.Wait()

	var bad []string
	for i, c := range children {
		if c != culprit && errs[i] != nil {
			bad = append(bad, fmt.Sprintf("%s exited with status %d", c.Name, ExitStatus(errs[i])))
		}
	}
	switch {
	case reason != nil && len(bad) > 0:
		reason.Msg += "\n" + strings.Join(bad, "\n")
	case reason == nil && len(bad) > 0:
		reason = &ExitError{Code: 1, Msg: strings.Join(bad, "\n")}
	case reason == nil:
		return nil
	}
	return reason
}
