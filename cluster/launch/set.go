package launch

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/quorumlab/quorumlab/cluster"
)

// ErrClosed is returned for what a closing cluster no longer does.
var ErrClosed = errors.New("cluster is closed")

// Member is a backend's own record of one node.
type Member interface{ Info() cluster.Node }

// Set is a backend's nodes in id order, which AddNode extends, and its
// closing: once Close has begun no node is added, so Close sees them all.
// The zero Set is empty and open; it is safe for concurrent use.
type Set[N Member] struct {
	mu    sync.RWMutex // guards nodes and byID
	nodes []N
	byID  map[string]N

	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Add appends n, unless the set is closing.
func (s *Set[N]) Add(n N) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return fmt.Errorf("%s: %w", n.Info().ID, ErrClosed)
	}
	if s.byID == nil {
		s.byID = make(map[string]N)
	}
	s.nodes = append(s.nodes, n)
	s.byID[n.Info().ID] = n
	return nil
}

// Get returns node id.
func (s *Set[N]) Get(id string) (N, error) {
	s.mu.RLock()
	n, ok := s.byID[id]
	s.mu.RUnlock()
	if !ok {
		return n, fmt.Errorf("unknown node %q", id)
	}
	return n, nil
}

// All returns the nodes, in id order.
func (s *Set[N]) All() []N {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.nodes)
}

// Nodes returns what the harness knows of the nodes, in id order.
func (s *Set[N]) Nodes() []cluster.Node {
	nodes := s.All()
	out := make([]cluster.Node, len(nodes))
	for i, n := range nodes {
		out[i] = n.Info()
	}
	return out
}

// Closing reports whether Close has begun: no node may start then.
func (s *Set[N]) Closing() bool { return s.closing.Load() }

// Close marks the set closing and runs teardown, once: a backend's Close
// may be called more than once and concurrently (from a signal handler,
// say), and later calls wait for the first and return its result.
func (s *Set[N]) Close(teardown func() error) error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		s.closeErr = teardown()
	})
	return s.closeErr
}
