package consumer

import (
	"sync"

	"github.com/ankitamadan/patient-profile/internal/message"
)

// watermark tracks, per partition, the messages fetched and not yet final, in fetch order, and
// the message to commit next: the last one below which every message is final and which is not
// committed yet. Patients finish in any order; the commit only moves over a contiguous prefix.
//
// A reader can hand out an offset again (delivery is at least once, and a rebalance can replay
// a partition from its committed offset or from messages fetched for the previous assignment),
// so a partition's offsets can go backwards in what the loop fetches. Such a message is handled
// like any other (the conditional write makes a stale or duplicate event a no-op, so it cannot
// overwrite newer data) but it is not tracked: its offset is already held by the message first
// fetched there, which is tracked and reaches a final outcome of its own. So the commit never
// goes back, which would only rewind the group and cause redelivery.
type watermark struct {
	mu      sync.Mutex
	parts   map[int]*partitionMarks
	pending map[int]message.Message
}

type partitionMarks struct {
	high  int64 // the highest offset tracked; valid once seen
	seen  bool
	queue []*mark // not yet passed by the watermark, in offset order
}

// mark is one tracked message. m keeps only what a commit needs, not the value.
type mark struct {
	m    message.Message
	done bool
	part *partitionMarks
}

func newWatermark() watermark {
	return watermark{parts: map[int]*partitionMarks{}, pending: map[int]message.Message{}}
}

// track adds m at the end of its partition and returns its mark, or nil if m is a redelivery
// of an offset already tracked.
func (w *watermark) track(m message.Message) *mark {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.parts[m.Partition]
	if !ok {
		p = &partitionMarks{}
		w.parts[m.Partition] = p
	}
	if p.seen && m.Offset <= p.high {
		return nil
	}
	p.seen, p.high = true, m.Offset
	mk := &mark{m: message.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}, part: p}
	p.queue = append(p.queue, mk)
	return mk
}

// done records mk as final and moves its partition's watermark over every final message at the
// front.
func (w *watermark) done(mk *mark) {
	w.mu.Lock()
	defer w.mu.Unlock()
	mk.done = true
	p := mk.part
	for len(p.queue) > 0 && p.queue[0].done {
		w.pending[p.queue[0].m.Partition] = p.queue[0].m
		p.queue[0] = nil
		p.queue = p.queue[1:]
	}
}

// take returns the messages to commit, one per partition whose watermark moved.
func (w *watermark) take() []message.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	msgs := make([]message.Message, 0, len(w.pending))
	for p, m := range w.pending {
		msgs = append(msgs, m)
		delete(w.pending, p)
	}
	return msgs
}

// restore puts back messages whose commit failed, unless the watermark moved on meanwhile.
func (w *watermark) restore(msgs []message.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range msgs {
		if _, newer := w.pending[m.Partition]; !newer {
			w.pending[m.Partition] = m
		}
	}
}
