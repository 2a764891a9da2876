package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ankitamadan/patient-profile/internal/devenv"
)

// fleet is the consumer processes alive, oldest first. A phase takes its victims out of it
// before killing them, so that what is left is always what the group should settle on. The
// mutex is for a phase that kills from a goroutine of its own (a fault on a timer) while the
// run goes on.
type fleet struct {
	bin string
	// env is the consumer's environment for a port, extra entries last (Stack.ConsumerEnv).
	env  func(port int, extra ...string) []string
	logs io.Writer

	mu    sync.Mutex
	procs []*devenv.Process
	ports map[*devenv.Process]int // where each serves /metrics
}

// start runs one more consumer, serving HTTP on a free port. env entries (KEY=value) override
// the stack's: a phase that puts a proxy between the consumer and the broker or the store passes
// its own KAFKA_BROKERS or DDB_HOST.
func (f *fleet) start(env ...string) (*devenv.Process, error) {
	port, err := devenv.FreePort()
	if err != nil {
		return nil, err
	}
	p, err := devenv.Start("consumer", f.bin, f.env(port, env...), f.logs)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.procs = append(f.procs, p)
	if f.ports == nil {
		f.ports = map[*devenv.Process]int{}
	}
	f.ports[p] = port
	f.mu.Unlock()
	return p, nil
}

// tally is what the fleet's consumers have counted, summed over those alive.
type tally struct {
	retries, commitFailures int64
}

// counts scrapes the /metrics of every consumer alive and sums their counts. A consumer that
// does not answer adds nothing: the counts are a report, not a verdict.
func (f *fleet) counts(ctx context.Context) tally {
	f.mu.Lock()
	ports := make([]int, 0, len(f.procs))
	for _, p := range f.procs {
		ports = append(ports, f.ports[p])
	}
	f.mu.Unlock()
	var t tally
	client := &http.Client{Timeout: 2 * time.Second}
	for _, port := range ports {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet,
			"http://127.0.0.1:"+strconv.Itoa(port)+"/metrics", http.NoBody)
		if err != nil {
			continue
		}
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		t.retries += metricValue(string(b), "patient_profile_consumer_retries_total")
		t.commitFailures += metricValue(string(b), "patient_profile_consumer_commit_failures_total")
	}
	return t
}

// growTo starts consumers until n are alive.
func (f *fleet) growTo(n int) error {
	for f.size() < n {
		if _, err := f.start(); err != nil {
			return err
		}
	}
	return nil
}

func (f *fleet) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.procs)
}

// take removes the i-th oldest consumer from the fleet and returns it, still running, for the
// caller to kill at the moment it picks.
func (f *fleet) take(i int) *devenv.Process {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.procs[i]
	f.procs = slices.Delete(f.procs, i, i+1)
	return p
}

// takeAll empties the fleet and returns what it held.
func (f *fleet) takeAll() []*devenv.Process {
	f.mu.Lock()
	defer f.mu.Unlock()
	procs := f.procs
	f.procs = nil
	return procs
}

// alive returns the consumers in the fleet, which stay in it.
func (f *fleet) alive() []*devenv.Process {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.procs)
}

// exited returns an error naming each consumer in the fleet that has exited: only a phase kills
// a consumer, and it takes it out of the fleet first, so any other exit is a consumer that gave
// up on its own.
func (f *fleet) exited() error {
	var errs []error
	for _, p := range f.alive() {
		if !p.Exited() {
			continue
		}
		status := p.Wait(0)
		if status == nil {
			status = errors.New("exit status 0")
		}
		errs = append(errs, fmt.Errorf("consumer %d exited by itself: %w", p.Pid(), status))
	}
	return errors.Join(errs...)
}

// dump sends every consumer SIGQUIT, on which the Go runtime writes all its goroutines to the
// logs and exits, and waits for each to be gone.
func (f *fleet) dump() {
	for _, p := range f.takeAll() {
		_ = p.Signal(syscall.SIGQUIT)
		if p.Wait(5*time.Second) != nil && !p.Exited() {
			p.Kill()
		}
	}
}

// killAll SIGKILLs every consumer and waits for each to be gone.
func (f *fleet) killAll() {
	for _, p := range f.takeAll() {
		p.Kill()
	}
}

// stop sends every consumer SIGTERM and gives each until within to exit cleanly. It SIGKILLs
// those that do not, and returns why each of them failed.
func (f *fleet) stop(within time.Duration) []error {
	procs := f.takeAll()
	for _, p := range procs {
		_ = p.Signal(syscall.SIGTERM)
	}
	var errs []error
	for _, p := range procs {
		if err := p.Wait(within); err != nil {
			errs = append(errs, err)
			p.Kill()
		}
	}
	return errs
}
