package storage

import (
	"errors"
	"fmt"
	"hash/maphash"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// KeyUpdate is one key's read-modify-write for UpdateMany.
type KeyUpdate struct {
	Token uint64
	Key   []byte
	Fn    func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool)
}

// UpdateMany is Update for many keys with one commit: with Sync, one WAL
// fsync for the lot instead of one per key, which is what bulk transfers
// (anti-entropy, joins) need. It reports which keys changed. A key may
// appear more than once; each update sees the ones before it.
func (s *Store) UpdateMany(us []KeyUpdate) ([]bool, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	// Lock every stripe involved, in order, so concurrent callers cannot
	// deadlock.
	var stripes []int
	for _, u := range us {
		stripes = append(stripes, int(maphash.Bytes(s.seed, u.Key)%uint64(len(s.locks))))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, i := range stripes {
		s.locks[i].Lock()
	}
	defer func() {
		for _, i := range stripes {
			s.locks[i].Unlock()
		}
	}()

	b := s.db.NewIndexedBatch()
	defer b.Close()
	changed := make([]bool, len(us))
	for i, u := range us {
		k := encodeKey(u.Token, u.Key)
		var old *kvpb.VersionSet
		v, closer, err := b.Get(k)
		switch {
		case errors.Is(err, pebble.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("storage: get: %w", s.fail(err))
		default:
			old = &kvpb.VersionSet{}
			err = proto.Unmarshal(v, old)
			closer.Close()
			if err != nil {
				return nil, s.corrupt("undecodable version set for key %q: %v", u.Key, err)
			}
		}
		next, ch := u.Fn(old)
		if !ch {
			continue
		}
		enc, err := proto.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("storage: encode: %w", err)
		}
		if err := b.Set(k, enc, nil); err != nil {
			return nil, fmt.Errorf("storage: set: %w", err)
		}
		changed[i] = true
	}
	if b.Empty() {
		return changed, nil
	}
	if err := s.commit(b, s.wopts); err != nil {
		return nil, fmt.Errorf("storage: commit: %w", err)
	}
	return changed, nil
}
