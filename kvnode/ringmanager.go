package kvnode

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/placement"
	"github.com/quorumlab/quorumlab/kvnode/storage"
)

const ringMetaKey = "ring"

// ringManager holds this node's ring state: it merges what gossip brings,
// changes this node's own entry, persists the state and publishes an
// immutable view after every change. It calls nothing of the node: the
// node reads views and reacts to Dirty.
type ringManager struct {
	self   *kvpb.RingMember // this node's entry, without status and version
	vnodes int
	store  *storage.Store
	log    *slog.Logger

	mu    sync.Mutex // guards state; every change publishes a new view
	state placement.State
	view  atomic.Pointer[placement.View]
	// persistMu orders state writes to storage, so concurrent writers
	// never leave an older state on disk.
	persistMu sync.Mutex
	dirty     chan struct{}
}

func newRingManager(self *kvpb.RingMember, vnodes int, store *storage.Store, log *slog.Logger) *ringManager {
	return &ringManager{self: self, vnodes: vnodes, store: store, log: log, dirty: make(chan struct{}, 1)}
}

// load builds the first view from the static peers and, when the ring is
// gossiped, the persisted state (the founding peers at version 0, so
// anything learned since wins) and this node's own entry.
func (m *ringManager) load(peers []*kvpb.RingMember, gossiped bool) error {
	s := placement.State{}
	for _, p := range peers {
		s[p.GetId()] = p
	}
	if gossiped {
		b, err := m.store.Meta(ringMetaKey)
		if errors.Is(err, storage.ErrDamaged) {
			b, err = nil, nil // the ring is learned from the peers
		}
		if err != nil {
			return err
		}
		if b != nil {
			var saved kvpb.RingState
			if err := proto.Unmarshal(b, &saved); err != nil {
				return fmt.Errorf("stored ring state: %w", err)
			}
			s.Merge(saved.GetMembers(), "")
		}
		if cur := s[m.self.GetId()]; cur != nil {
			// Addresses, zone or weight may have changed since: say so.
			own := m.entry(cur.GetStatus(), cur.GetVersion())
			if !placement.SameFields(own, cur) {
				own.Version++
				s[m.self.GetId()] = own
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = s
	return m.publishLocked()
}

// View is the current view; requests load one and use it throughout.
func (m *ringManager) View() *placement.View { return m.view.Load() }

// Dirty receives after each published change (changes may coalesce).
func (m *ringManager) Dirty() <-chan struct{} { return m.dirty }

// entry is this node's ring entry with the given status and version.
func (m *ringManager) entry(status string, version uint64) *kvpb.RingMember {
	e := proto.Clone(m.self).(*kvpb.RingMember)
	e.Status, e.Version = status, version
	return e
}

// ownEntry is this node's entry as the state holds it, or one outside the
// ring (no status) if it has none.
func (m *ringManager) ownEntry() *kvpb.RingMember {
	m.mu.Lock()
	e := m.state[m.self.GetId()]
	m.mu.Unlock()
	if e == nil {
		e = m.entry("", 0)
	}
	return e
}

// encoded is the whole state, as gossip's push/pull sends it.
func (m *ringManager) encoded() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := proto.Marshal(&kvpb.RingState{Members: m.state.List()})
	if err != nil {
		return nil, fmt.Errorf("encode ring state: %w", err)
	}
	return b, nil
}

// merge takes the entries learned from gossip that supersede ours.
func (m *ringManager) merge(in []*kvpb.RingMember) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.self.GetId()
	changed := m.state.Merge(in, id)
	own := m.state[id]
	if own == nil {
		own = m.entry("", 0)
	}
	if m.state.AdoptSelf(in, own) {
		changed = true
		m.log.Info("ring: adopted this node's entry from the cluster", "status", m.state[id].GetStatus(),
			"version", m.state[id].GetVersion())
	}
	if changed {
		if err := m.publishLocked(); err != nil {
			m.log.Error("ring: merged state does not build", "err", err)
		}
	}
}

// setStatus changes this node's status, publishes and persists the state,
// and returns the status it had.
func (m *ringManager) setStatus(status string) (from string, err error) {
	m.mu.Lock()
	cur := m.state[m.self.GetId()]
	m.state[m.self.GetId()] = m.entry(status, cur.GetVersion()+1)
	err = m.publishLocked()
	m.mu.Unlock()
	if err != nil {
		return "", err
	}
	return cur.GetStatus(), m.persist()
}

// persist writes the current state.
func (m *ringManager) persist() error {
	m.persistMu.Lock()
	defer m.persistMu.Unlock()
	b, err := m.encoded()
	if err != nil {
		return err
	}
	return m.store.SetMeta(ringMetaKey, b)
}

// publishLocked builds and publishes the view of the state (mu held).
func (m *ringManager) publishLocked() error {
	v, err := placement.Build(m.state.Clone(), m.vnodes)
	if err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	m.view.Store(v)
	select {
	case m.dirty <- struct{}{}:
	default:
	}
	return nil
}
