// Package soak is the convergence test behind `make soak` and e2e's TestSoak: an adversarial
// stream (shuffled, duplicated, tied timestamps, mixed offsets and fraction widths, deletions and
// the Kafka tombstones after them, poison) published straight to the topic, real consumer
// processes SIGKILLed at random points, and at the end every row compared with the newest event
// per patient and the dead-letter topic with the poison sent.
//
// One file per job: stream.go is the input and what it should produce, publish.go puts it on the
// topic, fleet.go starts and stops the consumer processes, group.go watches the consumer group,
// chaos.go holds the phases that kill consumers, netfaults.go the phase that breaks the network
// (load.go is the producer's load in it), and check.go compares the outcome and reports it.
package soak

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/message"
)

// Config sizes a convergence run.
type Config struct {
	Patients int
	// Events is how many valid events to publish in all, duplicates included.
	Events int
	// Poison is how many undecodable or invalid messages to mix in.
	Poison int
	// Kills is how many times the lone consumer of the first phase is SIGKILLed and restarted.
	Kills int
	// Consumers is how many run at once in the second phase; one of them is SIGKILLed.
	Consumers int
	// CrashLoops is how many times, in the third phase, the running consumers are SIGKILLed,
	// Consumers new ones started and SIGKILLed 0.5 to 1.5 s later, before the group has taken
	// them in, and Consumers new ones started again.
	CrashLoops int
	// NetworkFaults adds phase 4: consumers and a producer behind Toxiproxy links, and faults on
	// those links one kind at a time, then mixed, each held for FaultDuration (a partition for
	// twice that), while the last quarter of the stream and a steady load on the producer flow.
	NetworkFaults bool
	FaultDuration time.Duration
	Seed          uint64
	// ConsumerBin and ProducerBin are the binaries to run; the producer only in phase 4.
	ConsumerBin, ProducerBin string
	// Logs receives the consumers' and dynalite's output.
	Logs io.Writer
	// Progress, if set, receives one line per phase.
	Progress io.Writer
}

// Run publishes an adversarial stream straight to the topic, runs real consumer processes
// against it, SIGKILLs them at random points, and once the group has no lag left checks every
// row against the newest event per patient and the dead-letter topic against the poison sent.
func Run(ctx context.Context, cfg Config) (Result, error) {
	start := time.Now()
	opts, err := devenv.Ephemeral()
	if err != nil {
		return Result{}, err
	}
	s, err := devenv.StartStack(ctx, cfg.Logs, opts)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()

	r := newRun(cfg, s)
	if cfg.NetworkFaults {
		r.faults = devenv.NewFaults()
		defer r.faults.Close()
	}
	// Whatever ends the run, no consumer outlives it.
	defer r.fleet.killAll()
	stopPublishing, err := r.startPublishing(ctx)
	if err != nil {
		return r.res, err
	}
	defer stopPublishing()

	// The chaos, in order. Each phase runs while the rest of the stream is still being
	// published, and leaves the consumers it started running for the next.
	phases := []struct {
		name string
		run  func(context.Context) error
	}{
		{"phase 1 (one consumer, killed)", r.killLoneConsumer},
		{"phase 2 (one of many killed)", r.killOneOfMany},
		{"phase 3 (crash loops)", r.crashLoops},
		{"phase 4 (network faults)", r.networkFaults},
	}
	for _, p := range phases {
		if err := p.run(ctx); err != nil {
			return r.res, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	if err := r.drain(ctx); err != nil {
		return r.res, fmt.Errorf("drain: %w", err)
	}
	if err := r.stream.check(ctx, s, r.acks, &r.res); err != nil {
		return r.res, err
	}
	r.res.Elapsed = time.Since(start)
	return r.res, nil
}

// run is one soak in progress: the stack, the stream, the consumers alive and the tally so far.
// The phases are its methods, so that they share these without closures over Run's locals.
type run struct {
	cfg    Config
	rng    *rand.Rand
	stack  *devenv.Stack
	stream *stream
	fleet  *fleet
	// publishing is the rest of the stream going out in the background (startPublishing), but
	// for heldBack, which waits for the network faults.
	publishing *publishing
	heldBack   []message.Message
	// acks are the events the producer acknowledged in the network faults, and faults the links
	// its services go through.
	acks   []acked
	faults *devenv.Faults
	res    Result
}

func newRun(cfg Config, s *devenv.Stack) *run {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	st := newStream(rng, cfg)
	r := &run{
		cfg: cfg, rng: rng, stack: s, stream: st,
		fleet: &fleet{bin: cfg.ConsumerBin, env: s.ConsumerEnv, logs: cfg.Logs},
		res: Result{
			Patients: cfg.Patients, Events: st.events, Duplicates: st.duplicates, PoisonSent: len(st.poison),
			Deletions: st.deletions, KafkaTombstones: st.kafkaTombstones,
		},
	}
	r.progress("%d messages (%d events, %d duplicates, %d deletions, %d Kafka tombstones, %d poison) for %d patients",
		len(st.msgs), st.events, st.duplicates, st.deletions, st.kafkaTombstones, len(st.poison), cfg.Patients)
	return r
}

// drain waits for the whole stream to be published and committed, then stops the survivors with
// SIGTERM: that they stop cleanly is checked too.
func (r *run) drain(ctx context.Context) error {
	if err := r.publishing.wait(); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	r.progress("all %d messages published; waiting for the group to catch up", len(r.stream.msgs))
	if err := r.stack.WaitNoLag(ctx, 5*time.Minute, r.fleet.alive()...); err != nil {
		// What a stuck consumer is waiting on is in its goroutines: they go to the logs.
		r.fleet.dump()
		return fmt.Errorf("%w (the consumers' goroutines are in the logs)", err)
	}
	for _, err := range r.fleet.stop(15 * time.Second) {
		r.res.Problems = append(r.res.Problems, fmt.Sprintf("a consumer did not stop cleanly on SIGTERM: %v", err))
	}
	return nil
}

// sleep waits a random time in [lo, hi), or until ctx is done.
func (r *run) sleep(ctx context.Context, lo, hi time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(lo + time.Duration(r.rng.Int64N(int64(hi-lo)))):
		return nil
	}
}

func (r *run) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "soak: "+format+"\n", args...)
	}
}
