package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// Hints are version sets a node holds for another (sloppy quorum), kept
// apart from its own data under 'h' ‖ token ‖ len(key) ‖ key ‖ owner: one
// key's hints for every owner are one short prefix scan, for reads of a
// stand-in. Delivery scans them all; there are few.
const hintPrefix = 'h'

// metaPrefix holds node metadata (the ring state, counters).
const metaPrefix = "m/"

func hintKeyPrefix(token uint64, key []byte) []byte {
	b := make([]byte, 11+len(key))
	b[0] = hintPrefix
	binary.BigEndian.PutUint64(b[1:9], token)
	binary.BigEndian.PutUint16(b[9:11], uint16(len(key)))
	copy(b[11:], key)
	return b
}

func encodeHintKey(owner string, token uint64, key []byte) []byte {
	return append(hintKeyPrefix(token, key), owner...)
}

func decodeHintKey(b []byte) (owner string, token uint64, key []byte, err error) {
	if len(b) < 11 || b[0] != hintPrefix {
		return "", 0, nil, fmt.Errorf("storage: malformed hint key %x", b)
	}
	token = binary.BigEndian.Uint64(b[1:9])
	n := int(binary.BigEndian.Uint16(b[9:11]))
	if len(b) < 11+n {
		return "", 0, nil, fmt.Errorf("storage: malformed hint key %x", b)
	}
	return string(b[11+n:]), token, bytes.Clone(b[11 : 11+n]), nil
}

func (s *Store) lock(key []byte) func() {
	mu := &s.locks[maphash.Bytes(s.seed, key)%uint64(len(s.locks))]
	mu.Lock()
	return mu.Unlock
}

func (s *Store) getSet(k []byte) (*kvpb.VersionSet, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: get: %w", s.fail(err))
	}
	defer closer.Close()
	set := &kvpb.VersionSet{}
	if err := proto.Unmarshal(v, set); err != nil {
		return nil, s.corrupt("undecodable version set under %q: %v", k, err)
	}
	return set, nil
}

// set and del write one key through commit, for the ledger.
func (s *Store) set(k, v []byte, o *pebble.WriteOptions) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Set(k, v, nil); err != nil {
		return err
	}
	return s.commit(b, o)
}

func (s *Store) del(k []byte, o *pebble.WriteOptions) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(k, nil); err != nil {
		return err
	}
	return s.commit(b, o)
}

func (s *Store) update(k, key []byte, fn func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool)) (*kvpb.VersionSet, error) {
	defer s.lock(key)()
	old, err := s.getSet(k)
	if err != nil {
		return nil, err
	}
	next, changed := fn(old)
	if !changed {
		return old, nil
	}
	b, err := proto.Marshal(next)
	if err != nil {
		return nil, fmt.Errorf("storage: encode: %w", err)
	}
	if err := s.set(k, b, s.wopts); err != nil {
		return nil, fmt.Errorf("storage: set: %w", err)
	}
	return next, nil
}

// deleteIf deletes k if it still holds exactly sent, under the key's lock:
// whatever arrived since sent was read stays.
func (s *Store) deleteIf(k, key []byte, sent *kvpb.VersionSet) (bool, error) {
	if err := s.check(); err != nil {
		return false, err
	}
	defer s.lock(key)()
	cur, err := s.getSet(k)
	if err != nil || cur == nil {
		return false, err
	}
	if !proto.Equal(cur, sent) {
		return false, nil
	}
	if err := s.del(k, s.wopts); err != nil {
		return false, fmt.Errorf("storage: delete: %w", err)
	}
	return true, nil
}

// DeleteIf deletes the key's version set if it is still exactly sent, and
// reports whether it did. Data handed to other nodes is dropped this way, so
// a write that arrived meanwhile is kept (and handed over next time).
func (s *Store) DeleteIf(token uint64, key []byte, sent *kvpb.VersionSet) (bool, error) {
	return s.deleteIf(encodeKey(token, key), key, sent)
}

// UpdateHint is Update for the hint held for owner.
func (s *Store) UpdateHint(owner string, token uint64, key []byte, fn func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool)) (*kvpb.VersionSet, error) {
	if owner == "" {
		return nil, errors.New("storage: hint without an owner")
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.update(encodeHintKey(owner, token, key), key, fn)
}

// DeleteHintIf is DeleteIf for the hint held for owner.
func (s *Store) DeleteHintIf(owner string, token uint64, key []byte, sent *kvpb.VersionSet) (bool, error) {
	return s.deleteIf(encodeHintKey(owner, token, key), key, sent)
}

// KeyHints returns the hints held for key, for any owner.
func (s *Store) KeyHints(token uint64, key []byte) ([]*kvpb.VersionSet, error) {
	var out []*kvpb.VersionSet
	p := hintKeyPrefix(token, key)
	err := s.iterate(p, prefixEnd(p), func(k, v []byte) error {
		set := &kvpb.VersionSet{}
		if err := proto.Unmarshal(v, set); err != nil {
			return s.corrupt("undecodable hint for key %q: %v", key, err)
		}
		out = append(out, set)
		return nil
	})
	return out, err
}

// ScanHints calls fn for every hint, in token order. Iteration stops at the
// first error fn returns.
func (s *Store) ScanHints(fn func(owner string, token uint64, key []byte, set *kvpb.VersionSet) error) error {
	return s.iterate([]byte{hintPrefix}, []byte{hintPrefix + 1}, func(k, v []byte) error {
		owner, token, key, err := decodeHintKey(k)
		if err != nil {
			return s.corrupt("%v", err)
		}
		set := &kvpb.VersionSet{}
		if err := proto.Unmarshal(v, set); err != nil {
			return s.corrupt("undecodable hint for key %q: %v", key, err)
		}
		return fn(owner, token, key, set)
	})
}

// CountHints returns the number of hints held.
func (s *Store) CountHints() (uint64, error) {
	var n uint64
	err := s.iterate([]byte{hintPrefix}, []byte{hintPrefix + 1}, func(k, v []byte) error { n++; return nil })
	return n, err
}

func (s *Store) iterate(lower, upper []byte, fn func(k, v []byte) error) error {
	if err := s.check(); err != nil {
		return err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("storage: iterate: %w", s.fail(err))
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("storage: iterate: %w", s.fail(err))
	}
	return nil
}

// prefixEnd is the smallest key above every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // all 0xff: no upper bound
}

// Meta returns the node metadata stored under name, or nil.
func (s *Store) Meta(name string) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	v, closer, err := s.db.Get([]byte(metaPrefix + name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: get meta %s: %w", name, s.fail(err))
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// SetMeta durably stores node metadata under name.
func (s *Store) SetMeta(name string, v []byte) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := s.set([]byte(metaPrefix+name), v, pebble.Sync); err != nil {
		return fmt.Errorf("storage: set meta %s: %w", name, err)
	}
	return nil
}
