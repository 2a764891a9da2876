package consumer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/ankitamadan/patient-profile/internal/message"
)

// Ping reports whether the loop is doing its work: no partition is retrying a store write or a
// dead-letter publish, and the last commit succeeded. /readyz asks it beside the checks that dial
// the broker and describe the table, because those succeed while writes are throttled or not
// permitted, or while commits fail. Fetching is left to the broker check: the reader
// retries a failed fetch or join behind Fetch, which then just blocks, so the loop cannot
// tell a recovered reader from an idle one.
func (c *Consumer) Ping(context.Context) error { return c.health.err() }

// health is what the loop has seen of its own calls, for Ping.
type health struct {
	mu        sync.Mutex
	failing   map[message.Coordinates]error // the messages whose calls are being retried, and why
	commitErr error
}

func newHealth() health { return health{failing: map[message.Coordinates]error{}} }

func (h *health) setFailing(m message.Message, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := m.At()
	if err == nil {
		delete(h.failing, key)
	} else {
		h.failing[key] = err
	}
}

func (h *health) setCommit(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.commitErr = err
}

func (h *health) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	byPartition := map[int]error{} // one line per partition is enough to say what is wrong
	for m, err := range h.failing {
		byPartition[m.Partition] = err
	}
	for _, p := range slices.Sorted(maps.Keys(byPartition)) {
		errs = append(errs, fmt.Errorf("partition %d retrying: %w", p, byPartition[p]))
	}
	if h.commitErr != nil {
		errs = append(errs, h.commitErr)
	}
	return errors.Join(errs...)
}
