package kvnode

import (
	"sync"

	"github.com/quorumlab/quorumlab/kvnode/storage"
)

// counterBlock is how many vclock counters are reserved per synced write.
const counterBlock = 10000

// counters issues this node's vclock counters from blocks reserved
// durably in storage, so no counter is issued twice, even across restarts.
type counters struct {
	store *storage.Store

	mu   sync.Mutex
	next uint64
	end  uint64 // 0: nothing reserved since the start
}

// issued reports whether this node can have issued counter c: every
// counter it issued lies below its durable reservation. A context claiming
// more is forged, and taking it would push this node's counters past it.
func (c *counters) issued(v uint64) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.end == 0 {
		// Reserving reads the durable mark, above everything issued before
		// the restart.
		if err := c.reserveLocked(c.next); err != nil {
			return false, err
		}
	}
	return v < c.next, nil
}

// take returns a counter above both the client's view (seen) and every
// counter this node issued before, including before a restart.
func (c *counters) take(seen uint64) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next = max(c.next, seen+1)
	if c.next >= c.end {
		if err := c.reserveLocked(c.next); err != nil {
			return 0, err
		}
	}
	v := c.next
	c.next++
	return v, nil
}

// raise makes every counter issued from now on at least floor.
func (c *counters) raise(floor uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.end != 0 && floor <= c.next {
		return nil
	}
	return c.reserveLocked(floor)
}

func (c *counters) reserveLocked(from uint64) error {
	start, err := c.store.ReserveCounters(from, counterBlock)
	if err != nil {
		return err
	}
	c.next, c.end = start, start+counterBlock
	return nil
}
