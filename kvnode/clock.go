package kvnode

import (
	"sync/atomic"
	"time"
)

// MaxClockOffset bounds the adjustable lww clock offset: enough for any
// clock-skew fault, and far from overflowing a nanosecond timestamp.
const MaxClockOffset = time.Hour

// lwwClock is the lww timestamp source: the wall clock plus an adjustable
// offset (for clock-skew faults), never returning the same value twice so
// two writes of one node never tie.
type lwwClock struct {
	offset atomic.Int64 // ns added to the wall clock
	last   atomic.Int64
}

func (c *lwwClock) now() int64 {
	for {
		ts := time.Now().UnixNano() + c.offset.Load()
		last := c.last.Load()
		if ts == last {
			ts++
		}
		if c.last.CompareAndSwap(last, ts) {
			return ts
		}
	}
}
