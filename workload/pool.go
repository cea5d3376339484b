package workload

import (
	"slices"
	"sync"
)

// Pool is the set of nodes clients send requests to. It may change while a
// run goes (nodes an autoscaler adds or removes); each client then moves to
// the node its number picks in the new set, as behind a load balancer.
type Pool struct {
	mu      sync.RWMutex
	targets []Target
}

// NewPool returns a pool of targets.
func NewPool(targets []Target) *Pool { return &Pool{targets: slices.Clone(targets)} }

// Targets returns the current targets.
func (p *Pool) Targets() []Target {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.targets)
}

// Add puts t in the pool.
func (p *Pool) Add(t Target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.targets = append(p.targets, t)
}

// Remove takes node's target out of the pool and returns it (ok false if
// it was not there). Requests already sent to it complete.
func (p *Pool) Remove(node string) (Target, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.IndexFunc(p.targets, func(t Target) bool { return t.Node == node })
	if i < 0 {
		return Target{}, false
	}
	t := p.targets[i]
	p.targets = slices.Delete(p.targets, i, i+1)
	return t, true
}

// pick is client w's target; ok is false if the pool is empty.
func (p *Pool) pick(w int) (Target, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.targets) == 0 {
		return Target{}, false
	}
	return p.targets[w%len(p.targets)], true
}
