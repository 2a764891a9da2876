package consumer

import (
	"maps"
	"sync"

	"github.com/ankitamadan/patient-profile/internal/message"
)

// Lag returns, per partition this consumer has handled, how many messages were behind the last
// one it brought to a final outcome, when that one was fetched. A partition that has moved to
// another member keeps the last value seen here.
func (c *Consumer) Lag() map[int]int64 { return c.lag.snapshot() }

type lag struct {
	mu          sync.Mutex
	byPartition map[int]int64
	offset      map[int]int64 // the highest offset recorded, per partition
}

func newLag() lag { return lag{byPartition: map[int]int64{}, offset: map[int]int64{}} }

// record notes the lag behind m: a fetched message carries its partition's high watermark (the
// offset the next message will get), so the messages after m number HighWaterMark - Offset - 1.
// Patients finish in any order, so only the highest offset of a partition counts.
func (l *lag) record(m message.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if o, ok := l.offset[m.Partition]; ok && m.Offset < o {
		return
	}
	l.offset[m.Partition] = m.Offset
	l.byPartition[m.Partition] = max(m.HighWaterMark-m.Offset-1, 0)
}

func (l *lag) snapshot() map[int]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.byPartition)
}
