package checker

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Progress lines start once a check has run this long, and repeat at the
// same interval.
const progressAfter = 2 * time.Second

// progress prints what a long check is doing, so that a CI log shows it is
// alive and where its time goes.
type progress struct {
	w       io.Writer
	keys    int
	guard   *memoryGuard
	start   time.Time
	mu      sync.Mutex
	decided map[Verdict]int
	running map[string]runningKey
	quit    chan struct{}
	done    sync.WaitGroup
}

type runningKey struct {
	ops   int
	since time.Time
}

func startProgress(w io.Writer, keys int, guard *memoryGuard) *progress {
	p := &progress{w: w, keys: keys, guard: guard, start: time.Now(), decided: make(map[Verdict]int), running: make(map[string]runningKey), quit: make(chan struct{})}
	if w == nil {
		return p
	}
	p.done.Go(func() {
		t := time.NewTicker(progressAfter)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				fmt.Fprintln(p.w, p.line())
			}
		}
	})
	return p
}

func (p *progress) line() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.decided[Valid] + p.decided[Invalid] + p.decided[Unknown]
	s := fmt.Sprintf("check %.0fs: %d/%d keys decided (%d invalid, %d unknown)", time.Since(p.start).Seconds(), n, p.keys, p.decided[Invalid], p.decided[Unknown])
	var run []string
	for _, k := range slices.Sorted(maps.Keys(p.running)) {
		r := p.running[k]
		run = append(run, fmt.Sprintf("%s: %d ops, %.0fs", k, r.ops, time.Since(r.since).Seconds()))
	}
	if len(run) > 0 {
		s += "; searching " + strings.Join(run, ", ")
	}
	if p.guard != nil {
		s += fmt.Sprintf("; peak %d MiB of %d", p.guard.peakMiB(), p.guard.limit>>20)
	}
	return s
}

func (p *progress) begin(key string, ops int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[key] = runningKey{ops, time.Now()}
}

// end records that key's search ended; v is its verdict, "" for a
// visualization.
func (p *progress) end(key string, v Verdict) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, key)
	if v != "" {
		p.decided[v]++
	}
}

func (p *progress) decide(v Verdict) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.decided[v]++
}

func (p *progress) stop() {
	close(p.quit)
	p.done.Wait()
}
