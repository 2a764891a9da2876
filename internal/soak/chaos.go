package soak

import (
	"context"
	"fmt"
	"time"

	"github.com/ankitamadan/patient-profile/internal/devenv"
)

// The phases: each is a method that Run calls in turn, while the rest of the stream is still
// being published, and each leaves the consumers it started in the fleet for the next.

// killLoneConsumer is phase 1: one consumer, SIGKILLed mid-stream and restarted, Kills times.
func (r *run) killLoneConsumer(ctx context.Context) error {
	since := r.committed(ctx)
	if _, err := r.fleet.start(); err != nil {
		return err
	}
	for range r.cfg.Kills {
		if err := r.kill(ctx, r.fleet.take(0), since); err != nil {
			return err
		}
		r.res.Kills++
		since = r.committed(ctx)
		if _, err := r.fleet.start(); err != nil {
			return err
		}
	}
	r.progress("phase 1: %d SIGKILLs of a lone consumer", r.res.Kills)
	return nil
}

// killOneOfMany is phase 2: Consumers at once; one dies and the others take its partitions over.
func (r *run) killOneOfMany(ctx context.Context) error {
	if err := r.fleet.growTo(r.cfg.Consumers); err != nil {
		return err
	}
	if r.cfg.Consumers <= 1 {
		return nil
	}
	// Wait for the group to spread over them, so the victim holds partitions when it dies.
	if err := r.settle(ctx, r.cfg.Consumers, 2*time.Minute); err != nil {
		return err
	}
	victim := r.fleet.take(r.rng.IntN(r.fleet.size()))
	if err := r.kill(ctx, victim, r.committed(ctx)); err != nil {
		return err
	}
	r.res.ConcurrentKills++
	r.progress("phase 2: SIGKILLed 1 of %d concurrent consumers", r.cfg.Consumers)
	return nil
}

// crashLoops is phase 3. The running consumers are SIGKILLed and new ones started; those are
// SIGKILLed too, 0.5 to 1.5 s later, while the group is still waiting for the first ones'
// sessions to expire and so before it has taken them in; then new ones start again. The dead
// newcomers are members whose join the broker cannot answer: each must expire within its
// session timeout, or it keeps partitions that nobody consumes (issue 6). So after every loop
// the group must settle on exactly the live consumers.
func (r *run) crashLoops(ctx context.Context) error {
	var slowest time.Duration
	for range r.cfg.CrashLoops {
		r.fleet.killAll()
		if err := r.fleet.growTo(r.cfg.Consumers); err != nil {
			return err
		}
		if err := r.sleep(ctx, 500*time.Millisecond, 1500*time.Millisecond); err != nil {
			return err
		}
		r.fleet.killAll()
		if err := r.fleet.growTo(r.cfg.Consumers); err != nil {
			return err
		}
		began := time.Now()
		// Dead members expire after a session timeout (3 s here) and the group rebalances; a
		// member that outlives a minute would outlive any wait.
		if err := r.settle(ctx, r.cfg.Consumers, time.Minute); err != nil {
			return fmt.Errorf("crash loop %d: %w", r.res.CrashLoops+1, err)
		}
		slowest = max(slowest, time.Since(began))
		r.res.CrashLoops++
	}
	if r.cfg.CrashLoops > 0 {
		r.progress("phase 3: %d crash loops of %d consumers; the group settled on the live ones within %s each time",
			r.res.CrashLoops, r.cfg.Consumers, slowest.Round(100*time.Millisecond))
	}
	return nil
}

// kill SIGKILLs victim, which the caller has taken out of the fleet, once the group has
// committed progress since since and then at a moment with work in flight: the victim is then
// mid-stream, holding fetched, applied but uncommitted work. It counts the kills that found
// work in flight.
func (r *run) kill(ctx context.Context, victim *devenv.Process, since int64) error {
	// Out of the fleet, the victim would outlive a run that fails while waiting.
	defer victim.Kill()
	if err := r.waitProgress(ctx, since); err != nil {
		return err
	}
	if err := r.waitInFlight(ctx); err != nil {
		return err
	}
	committed, end, err := r.offsets(ctx)
	victim.Kill()
	if err == nil && committed < end {
		r.res.KillsInFlight++
	}
	return nil
}
