package checker

import (
	"context"
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// memoryGuard keeps the process under a memory budget by cancelling
// searches: porcupine's state cache grows without bound on hard histories,
// and only the search holding it can give it back.
type memoryGuard struct {
	limit   int64 // bytes
	trigger int64 // past this, the largest search is cancelled
	mu      sync.Mutex
	running map[*search]struct{}
	peak    int64
}

type search struct {
	size      int
	cancel    context.CancelCauseFunc
	cancelled bool
	done      chan struct{}
}

// guardPoll is how often memory is sampled: at porcupine's allocation rate
// (well under 1 GB/s) a sample period lets the heap grow a few MB.
const guardPoll = 5 * time.Millisecond

func newMemoryGuard(limit int64) *memoryGuard {
	return &memoryGuard{limit: limit, trigger: limit / 100 * 85, running: make(map[*search]struct{})}
}

// run samples memory until ctx is done. While it runs the runtime's soft
// limit is the trigger, so garbage is collected before searches are
// cancelled for it.
func (g *memoryGuard) run(ctx context.Context) {
	old := debug.SetMemoryLimit(g.trigger)
	defer debug.SetMemoryLimit(old)
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	t := time.NewTicker(guardPoll)
	defer t.Stop()
	var lastFree time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		used := int64(sample[0].Value.Uint64() - sample[1].Value.Uint64())
		g.mu.Lock()
		g.peak = max(g.peak, used)
		g.mu.Unlock()
		if used < g.trigger {
			continue
		}
		if s := g.largest(); s != nil {
			s.cancel(fmt.Errorf("memory budget of %d MiB reached (%d MiB in use) during a search of %d operations", g.limit>>20, used>>20, s.size))
			select { // let it unwind and drop its cache before sampling again
			case <-s.done:
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			debug.FreeOSMemory()
			lastFree = time.Now()
		} else if time.Since(lastFree) > time.Second {
			debug.FreeOSMemory()
			lastFree = time.Now()
		}
	}
}

// largest marks the running search with the most operations as cancelled
// and returns it; nil if none is left to cancel.
func (g *memoryGuard) largest() *search {
	g.mu.Lock()
	defer g.mu.Unlock()
	var best *search
	for s := range g.running {
		if !s.cancelled && (best == nil || s.size > best.size) {
			best = s
		}
	}
	if best != nil {
		best.cancelled = true
	}
	return best
}

// watch returns a context that the guard cancels if memory runs out while a
// search of size operations runs under it, and the function that ends it.
func (g *memoryGuard) watch(ctx context.Context, size int) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	if g == nil {
		return ctx, func() { cancel(nil) }
	}
	s := &search{size: size, cancel: cancel, done: make(chan struct{})}
	g.mu.Lock()
	g.running[s] = struct{}{}
	g.mu.Unlock()
	return ctx, func() {
		g.mu.Lock()
		delete(g.running, s)
		g.mu.Unlock()
		cancel(nil)
		close(s.done)
	}
}

// peakMiB is the most memory seen in use, in MiB.
func (g *memoryGuard) peakMiB() int64 {
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak >> 20
}

// DefaultMemoryBudget is the check's default memory budget on a machine
// with total bytes of memory: half of it, at most 4 GiB.
func DefaultMemoryBudget(total int64) int64 {
	return min(total/2, 4<<30)
}
