package nemesis

import (
	"context"
	"time"
)

// StrobePeriod is how often a strobe fault flips a clock.
const StrobePeriod = 50 * time.Millisecond

// clockKinds are the faults that set clock offsets.
func clockKind(kind string) bool { return kind == Clock || kind == Strobe }

// strobe flips f's nodes' clocks between their skew and 0 every
// StrobePeriod until the fault is undone. A flip that fails is retried at
// the next one: the undo resets the clock regardless.
func (n *Nemesis) strobe(f *fault) {
	ctx, cancel := context.WithCancel(context.Background())
	f.stopStrobe, f.strobed = cancel, make(chan struct{})
	go func() {
		defer close(f.strobed)
		t := time.NewTicker(StrobePeriod)
		defer t.Stop()
		for on := false; ; on = !on { // start made the first flip
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, id := range f.nodes {
				off := time.Duration(0)
				if on {
					off = f.offsets[id]
				}
				fctx, done := context.WithTimeout(ctx, time.Second)
				_ = n.admin.SetClockOffset(fctx, id, off) // the undo resets it regardless
				done()
			}
		}
	}()
}
