package console

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Hub is the overview's one poll, shared by every open page: while anyone watches it polls once
// per interval and hands the same snapshot to every watcher, so a hundred open pages cost the
// broker what one does. A page loaded between polls gets the latest snapshot, or, if that is
// older than the interval, waits for a poll it shares with any other page that asks meanwhile.
type Hub struct {
	poll     func(context.Context) *Snapshot
	interval time.Duration

	mu       sync.Mutex
	latest   *Snapshot
	inflight chan struct{} // closed when the poll in flight ends; nil when none is
	watchers map[chan *Snapshot]struct{}
	polls    atomic.Int64
}

// NewHub returns a Hub that calls poll at most once per interval while anyone watches.
func NewHub(poll func(context.Context) *Snapshot, interval time.Duration) *Hub {
	return &Hub{poll: poll, interval: interval, watchers: map[chan *Snapshot]struct{}{}}
}

// Polls is how many polls the Hub has made.
func (h *Hub) Polls() int64 { return h.polls.Load() }

// Current returns a snapshot no older than the interval, polling for one if need be.
func (h *Hub) Current(ctx context.Context) *Snapshot {
	h.mu.Lock()
	if s := h.latest; s != nil && time.Since(s.At) < h.interval {
		h.mu.Unlock()
		return s
	}
	h.mu.Unlock()
	return h.refresh(ctx)
}

// refresh polls, or, if a poll is already in flight, waits for it and returns its snapshot.
func (h *Hub) refresh(ctx context.Context) *Snapshot {
	h.mu.Lock()
	if wait := h.inflight; wait != nil {
		h.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.latest
	}
	done := make(chan struct{})
	h.inflight = done
	h.mu.Unlock()

	h.polls.Add(1)
	// Not the caller's context: the snapshot is everyone's, and a page closed mid-poll must not
	// cut it short for the others.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	s := h.poll(pctx)
	cancel()

	h.mu.Lock()
	h.latest, h.inflight = s, nil
	close(done)
	h.mu.Unlock()
	return s
}

// Watch returns a channel that receives each new snapshot, and the function that stops it. A
// watcher that is slow to read misses the snapshots it was too slow for, never the latest.
func (h *Hub) Watch() (<-chan *Snapshot, func()) {
	ch := make(chan *Snapshot, 1)
	h.mu.Lock()
	h.watchers[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.watchers, ch)
		h.mu.Unlock()
	}
}

// Run polls once per interval while anyone watches, and sends each snapshot to every watcher,
// until ctx is done.
func (h *Hub) Run(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		n := len(h.watchers)
		h.mu.Unlock()
		if n == 0 {
			continue
		}
		s := h.refresh(ctx)
		h.mu.Lock()
		for ch := range h.watchers {
			select {
			case <-ch: // drop the one it has not read: the new one replaces it
			default:
			}
			ch <- s
		}
		h.mu.Unlock()
	}
}
