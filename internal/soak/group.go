package soak

import (
	"context"
	"fmt"
	"time"

	"github.com/ankitamadan/patient-profile/internal/broker"
)

// What the consumer group says, for the phases to pick their moments by.

// offsets are the group's committed offsets and the topic's end offsets, summed over the
// partitions: what is between them is work in flight.
func (r *run) offsets(ctx context.Context) (committed, end int64, err error) {
	return broker.GroupOffsets(ctx, r.stack.Cluster(), r.stack.Group, r.stack.Topic)
}

// committed is the group's committed offsets, summed; 0 if the broker does not say.
func (r *run) committed(ctx context.Context) int64 {
	c, _, _ := r.offsets(ctx)
	return c
}

// waitProgress waits until the group has committed more than since: a consumer killed then has
// been working, not still joining.
func (r *run) waitProgress(ctx context.Context, since int64) error {
	for began := time.Now(); ; {
		committed, end, err := r.offsets(ctx)
		// Once everything is published and consumed there is no progress left to wait for: a
		// kill then is still a kill.
		if err == nil && (committed > since || committed == end && !r.publishing.ongoing()) {
			return nil
		}
		if time.Since(began) > 2*time.Minute {
			if err != nil {
				return fmt.Errorf("no progress before a kill: %w", err)
			}
			return fmt.Errorf("no progress before a kill (committed %d)", committed)
		}
		if err := r.sleep(ctx, 50*time.Millisecond, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitInFlight waits for a moment within the next one to three seconds at which there is work
// in flight (published but not committed), or for the end of that time. A fast consumer drains
// each chunk in milliseconds, so a moment picked blindly would often find nothing to lose.
func (r *run) waitInFlight(ctx context.Context) error {
	deadline := time.Now().Add(time.Duration(1+r.rng.IntN(3)) * time.Second)
	for {
		if err := r.sleep(ctx, 10*time.Millisecond, 60*time.Millisecond); err != nil {
			return err
		}
		committed, end, err := r.offsets(ctx)
		if err == nil && committed < end || time.Now().After(deadline) {
			return nil
		}
	}
}

// settle waits until the group's members are exactly the n running consumers, each holding
// partitions: a dead member still in the group would hold partitions nobody consumes.
func (r *run) settle(ctx context.Context, n int, within time.Duration) error {
	var members [][]int
	for began := time.Now(); time.Since(began) < within; {
		if err := r.fleet.exited(); err != nil {
			return err
		}
		var err error
		members, err = broker.Assignments(ctx, r.stack.Cluster(), r.stack.Group, r.stack.Topic)
		busy := 0
		for _, m := range members {
			if len(m) > 0 {
				busy++
			}
		}
		if err == nil && len(members) == n && busy == n {
			return nil
		}
		if err := r.sleep(ctx, 50*time.Millisecond, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("the group never settled on the %d running consumers within %s: its members hold %v",
		n, within, members)
}
