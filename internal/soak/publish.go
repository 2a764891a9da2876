package soak

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/message"
)

// publishing is the rest of the stream going out in the background while the phases run.
type publishing struct {
	active atomic.Bool
	done   chan error
}

// ongoing reports whether some of the stream is still to be published: until then the group has
// progress left to make.
func (p *publishing) ongoing() bool { return p.active.Load() }

// wait waits for the whole stream to be published and returns the publisher's error.
func (p *publishing) wait() error { return <-p.done }

// startPublishing publishes half the stream, a backlog for the first consumer to start on, then
// the rest in chunks in the background while the consumers run and die, so that kills land on
// work in flight. stop cancels the background publishing.
func (r *run) startPublishing(ctx context.Context) (stop func(), err error) {
	half := len(r.stream.msgs) / 2
	if err := publish(ctx, r.stack, r.stream.msgs[:half], 1, 0); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	rest := r.stream.msgs[half:]
	if r.cfg.NetworkFaults {
		// The last quarter waits for the network faults, so that they land on a flowing stream.
		held := len(r.stream.msgs) - len(r.stream.msgs)/4
		rest, r.heldBack = r.stream.msgs[half:held], r.stream.msgs[held:]
	}
	ctx, stop = context.WithCancel(ctx)
	p := &publishing{done: make(chan error, 1)}
	p.active.Store(true)
	// Spread over several seconds, so that the kills of phases 1 and 2 find fresh work in flight
	// even with a consumer fast enough to drain each chunk at once.
	go func() {
		err := publish(ctx, r.stack, rest, 40, 250*time.Millisecond)
		p.active.Store(false)
		p.done <- err
	}()
	r.publishing = p
	return stop, nil
}

// publishHeldBack publishes the part of the stream kept for the network faults, spread over
// about as long as they last, and says on the channel when it is done. It publishes straight to
// the broker, as another producer of the topic would: the faults are between the services and
// their dependencies.
func (r *run) publishHeldBack(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	chunks := 40
	pause := time.Duration(len(faultKinds(r.cfg))) * r.cfg.FaultDuration / time.Duration(chunks)
	go func() { done <- publish(ctx, r.stack, r.heldBack, chunks, pause) }()
	return done
}

// publish writes msgs in chunks, with a pause after each.
func publish(ctx context.Context, s *devenv.Stack, msgs []message.Message, chunks int, pause time.Duration) error {
	w := broker.NewWriter(s.Cluster(), s.Topic)
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Close(closeCtx) // every write waited for its acks: nothing is left to flush
	}()
	size := max(1, (len(msgs)+chunks-1)/chunks)
	for chunk := range slices.Chunk(msgs, size) {
		if err := w.Write(ctx, chunk...); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
	return nil
}
