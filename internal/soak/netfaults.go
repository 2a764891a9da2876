package soak

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv"
)

// The network-fault phase: consumers and a producer whose every connection to the broker and
// the store goes through a link of devenv.Faults. While the rest of the stream is published and
// the producer takes a steady load, the faults come one kind at a time, then mixed: each is
// applied, held, healed, and the group must then settle on the live consumers again. What the
// services did meanwhile (retries, rebalances, failed commits, 503s) is reported per fault.

// netMember is a consumer of the fault phase, with its links.
type netMember struct {
	broker, store *devenv.Link
}

// fault is one kind of network fault, applied to the links of the phase.
type fault struct {
	name string
	// hold is how long the fault lasts; 0 means Config.FaultDuration.
	hold  time.Duration
	apply func(n *netPhase) error
}

// netPhase is the fault phase in progress.
type netPhase struct {
	r        *run
	faults   *devenv.Faults
	members  []netMember
	producer *devenv.Link
}

// links returns every link of the phase: the consumers' and the producer's.
func (n *netPhase) links() []*devenv.Link {
	links := []*devenv.Link{n.producer}
	for _, m := range n.members {
		links = append(links, m.broker, m.store)
	}
	return links
}

func (n *netPhase) onAll(t devenv.Toxic, directions ...devenv.Direction) error {
	for _, l := range n.links() {
		if err := l.Add(t, directions...); err != nil {
			return err
		}
	}
	return nil
}

// faultKinds are the faults in the order the phase applies them. The session timeout of the
// soak's consumers is 3 s (Stack.ConsumerEnv): the broker partition outlasts it, so that the group
// expires a member that still has writes in flight, and the member comes back to commit.
func faultKinds(cfg Config) []fault {
	partition := 2 * cfg.FaultDuration
	return []fault{
		{name: "latency 50-500 ms and 256 KB/s", apply: func(n *netPhase) error {
			if err := n.onAll(devenv.Latency(275, 225), devenv.Both...); err != nil {
				return err
			}
			return n.onAll(devenv.Bandwidth(256), devenv.Downstream)
		}},
		{name: "reset_peer, both directions", apply: func(n *netPhase) error {
			return n.onAll(devenv.ResetPeer(0), devenv.Both...)
		}},
		{name: "black hole (timeout 0), both directions", apply: func(n *netPhase) error {
			return n.onAll(devenv.BlackHole(), devenv.Both...)
		}},
		{name: "hang-up: every connection closed after 100 ms, both directions", apply: func(n *netPhase) error {
			return n.onAll(devenv.HangUp(100), devenv.Both...)
		}},
		{name: "slicer: answers in pieces of about 64 bytes, 2 ms apart", apply: func(n *netPhase) error {
			return n.onAll(devenv.Slicer(64, 32, 2000), devenv.Downstream)
		}},
		{name: "one consumer cut off from the broker past its session timeout, writes in flight", hold: partition,
			apply: func(n *netPhase) error {
				m := n.members[n.r.rng.IntN(len(n.members))]
				// Slow store answers keep its writes in flight while the group expires it.
				if err := m.store.Add(devenv.Latency(1000, 500), devenv.Downstream); err != nil {
					return err
				}
				return m.broker.Add(devenv.BlackHole(), devenv.Both...)
			}},
		{name: "one consumer cut off from the store, the broker still reachable", apply: func(n *netPhase) error {
			return n.members[n.r.rng.IntN(len(n.members))].store.Add(devenv.BlackHole(), devenv.Both...)
		}},
		{name: "mixed: each link one fault at random", hold: partition, apply: func(n *netPhase) error {
			kinds := []func(*devenv.Link) error{
				func(l *devenv.Link) error { return l.Add(devenv.Latency(275, 225), devenv.Both...) },
				func(l *devenv.Link) error { return l.Add(devenv.ResetPeer(0), devenv.Upstream) },
				func(l *devenv.Link) error { return l.Add(devenv.BlackHole(), devenv.Both...) },
				func(l *devenv.Link) error { return l.Add(devenv.HangUp(100), devenv.Both...) },
				func(l *devenv.Link) error { return l.Add(devenv.Slicer(64, 32, 2000), devenv.Downstream) },
				func(*devenv.Link) error { return nil },
			}
			for _, l := range n.links() {
				if err := kinds[n.r.rng.IntN(len(kinds))](l); err != nil {
					return err
				}
			}
			return nil
		}},
	}
}

// networkFaults is phase 4 (Config.NetworkFaults).
func (r *run) networkFaults(ctx context.Context) error {
	if !r.cfg.NetworkFaults {
		return nil
	}
	// The links outlive the phase: its consumers drain the rest of the stream through them.
	n := &netPhase{r: r, faults: r.faults}
	// The consumers of the earlier phases dial the broker and the store directly: they make way.
	r.fleet.killAll()
	kafka := r.stack.Brokers[0]
	for i := range r.cfg.Consumers {
		bl, err := n.faults.Link(fmt.Sprintf("consumer-%d-broker", i), kafka)
		if err != nil {
			return err
		}
		sl, err := n.faults.Link(fmt.Sprintf("consumer-%d-store", i), r.stack.Dynalite.Addr)
		if err != nil {
			return err
		}
		// The broker advertises its own address: KAFKA_ADDRESS_MAP keeps every connection on the
		// link, not only the bootstrap.
		if _, err := r.fleet.start("KAFKA_BROKERS="+bl.Addr(), "KAFKA_ADDRESS_MAP="+kafka+"="+bl.Addr(),
			"DDB_HOST=http://"+sl.Addr()); err != nil {
			return err
		}
		n.members = append(n.members, netMember{broker: bl, store: sl})
	}
	pl, err := n.faults.Link("producer-broker", kafka)
	if err != nil {
		return err
	}
	n.producer = pl
	load, err := r.startLoad(ctx, "KAFKA_BROKERS="+pl.Addr(), "KAFKA_ADDRESS_MAP="+kafka+"="+pl.Addr())
	if err != nil {
		return err
	}
	defer load.stop()
	if err := r.settle(ctx, len(n.members), time.Minute); err != nil {
		return fmt.Errorf("network faults: before the first: %w", err)
	}
	held := r.publishHeldBack(ctx)

	for _, f := range faultKinds(r.cfg) {
		if err := n.inflict(ctx, f, load); err != nil {
			return err
		}
	}
	if err := <-held; err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	res, err := load.finish()
	r.acks = load.acknowledged()
	if err != nil {
		return err
	}
	r.res.Producer = res
	r.progress("phase 4: %d network faults; the producer answered %s", len(r.res.Faults), res)
	return nil
}

// inflict applies f, holds it, heals every link, and waits for the group to settle on the live
// consumers again. It reports what the services did meanwhile.
func (n *netPhase) inflict(ctx context.Context, f fault, load *load) error {
	r := n.r
	hold := f.hold
	if hold == 0 {
		hold = r.cfg.FaultDuration
	}
	before := r.fleet.counts(ctx)
	load503 := load.unavailable()
	watch := r.watchGroup(ctx)
	began := time.Now()
	if err := f.apply(n); err != nil {
		return fmt.Errorf("fault %q: %w", f.name, err)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(hold):
	}
	for _, l := range n.links() {
		l.Heal()
	}
	healed := time.Now()
	err := r.settle(ctx, len(n.members), 2*time.Minute)
	rebalances := watch()
	if err != nil {
		return fmt.Errorf("after fault %q: %w", f.name, err)
	}
	after := r.fleet.counts(ctx)
	report := FaultReport{
		Name: f.name, Held: hold, Settled: time.Since(healed),
		Retries:        after.retries - before.retries,
		CommitFailures: after.commitFailures - before.commitFailures,
		Rebalances:     rebalances,
		Unavailable:    load.unavailable() - load503,
	}
	r.res.Faults = append(r.res.Faults, report)
	r.progress("fault %s (from %s)", report, began.Format("15:04:05"))
	return nil
}

// FaultReport is what one network fault did to the services.
type FaultReport struct {
	Name string
	// Held is how long the fault lasted; Settled how long the group took afterwards to settle on
	// the live consumers again.
	Held, Settled time.Duration
	// Retries and CommitFailures are the consumers' counts over the fault and its settling
	// (patient_profile_consumer_retries_total and _commit_failures_total); Rebalances the
	// changes of the group's assignment seen meanwhile; Unavailable the producer's 503s.
	Retries, CommitFailures, Rebalances, Unavailable int64
}

func (f FaultReport) String() string {
	return fmt.Sprintf("%q held %s: %d store or dead-letter retries, %d rebalances, %d commits refused, "+
		"%d 503s; the group settled %s after it healed", f.Name, f.Held, f.Retries, f.Rebalances,
		f.CommitFailures, f.Unavailable, f.Settled.Round(100*time.Millisecond))
}

// watchGroup samples the group's assignment until the returned function is called, which
// returns how many times it changed.
func (r *run) watchGroup(ctx context.Context) func() int64 {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var changes int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := ""
		for ctx.Err() == nil {
			members, err := broker.Assignments(ctx, r.stack.Cluster(), r.stack.Group, r.stack.Topic)
			if err == nil {
				// Members come in no particular order; an assignment is the set of their sets.
				slices.SortFunc(members, slices.Compare[[]int])
				now := fmt.Sprint(members)
				mu.Lock()
				if last != "" && now != last {
					changes++
				}
				mu.Unlock()
				last = now
			}
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return changes
	}
}

// metricValue reads one unlabelled counter from a Prometheus text exposition.
func metricValue(exposition, name string) int64 {
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return int64(f)
			}
		}
	}
	return 0
}
