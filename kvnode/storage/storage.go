// Package storage keeps a node's version sets in Pebble. Keys are stored under
// their ring token (prefix ‖ token ‖ key) so a token range is one contiguous
// scan, which is what anti-entropy and range streaming need.
package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

const dataPrefix = 'd'

// Options configures a Store.
type Options struct {
	Dir string
	// Sync makes every commit wait for the WAL fsync.
	Sync bool
}

// Store is a node's durable key → version set map. Update serialises
// read-modify-writes of one key; different keys proceed in parallel.
type Store struct {
	db    *pebble.DB // nil if Pebble found it too damaged to open
	wopts *pebble.WriteOptions
	seed  maphash.Seed
	locks [256]sync.Mutex
	dmg   damage
}

// Open opens (or creates) the store in opts.Dir. Pebble replays its WAL, so
// every synced write survives a crash. A damaged store (see ledger.go) is
// returned without an error: Damage says what is wrong, and every other
// call fails.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("storage: empty data dir")
	}
	w := pebble.NoSync
	if opts.Sync {
		w = pebble.Sync
	}
	s := &Store{wopts: w, seed: maphash.MakeSeed(), dmg: damage{dir: opts.Dir}}
	po := &pebble.Options{Logger: quietLogger{}, EventListener: s.eventListener()}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(opts.Dir, po)
	if err != nil {
		if pebble.IsCorruptionError(err) {
			s.markDamaged(fmt.Sprintf("pebble cannot open it: %v", err))
			return s, nil
		}
		return nil, fmt.Errorf("storage: open %s: %w", opts.Dir, err)
	}
	s.db = db
	if err := s.checkLedger(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database and records the final ledger bound.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	lerr := s.stopLedger()
	err := s.db.Close()
	s.db = nil
	return errors.Join(err, lerr)
}

func encodeKey(token uint64, key []byte) []byte {
	b := make([]byte, 9+len(key))
	b[0] = dataPrefix
	binary.BigEndian.PutUint64(b[1:9], token)
	copy(b[9:], key)
	return b
}

func decodeKey(b []byte) (uint64, []byte, error) {
	if len(b) < 9 || b[0] != dataPrefix {
		return 0, nil, fmt.Errorf("storage: malformed key %x", b)
	}
	return binary.BigEndian.Uint64(b[1:9]), bytes.Clone(b[9:]), nil
}

// Get returns the key's version set, or nil if the key was never stored.
func (s *Store) Get(token uint64, key []byte) (*kvpb.VersionSet, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.getSet(encodeKey(token, key))
}

// Update applies fn to the key's current version set (nil if absent) and
// stores the result if fn reports a change. It returns the stored set.
func (s *Store) Update(token uint64, key []byte, fn func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool)) (*kvpb.VersionSet, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.update(encodeKey(token, key), key, fn)
}

// Scan calls fn for every key whose token is in [from, to], in token order.
// Iteration stops at the first error fn returns.
func (s *Store) Scan(from, to uint64, fn func(token uint64, key []byte, set *kvpb.VersionSet) error) error {
	lower := encodeKey(from, nil)
	var upper []byte
	if to == ^uint64(0) {
		upper = []byte{dataPrefix + 1}
	} else {
		upper = encodeKey(to+1, nil)
	}
	return s.iterate(lower, upper, func(k, v []byte) error {
		token, key, err := decodeKey(k)
		if err != nil {
			return s.corrupt("%v", err)
		}
		set := &kvpb.VersionSet{}
		if err := proto.Unmarshal(v, set); err != nil {
			return s.corrupt("undecodable version set for key %q: %v", key, err)
		}
		return fn(token, key, set)
	})
}

// quietLogger keeps Pebble's informational chatter out of the node log.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Printf("pebble: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

var counterKey = []byte("m/counter")

// ReserveCounters durably reserves a block of n counter values, starting at
// atLeast or past every block reserved before, and returns its first value.
// vclock mode uses them for the node's own clock entries, which must never
// repeat across restarts.
func (s *Store) ReserveCounters(atLeast, n uint64) (uint64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	var start uint64
	v, closer, err := s.db.Get(counterKey)
	err = s.fail(err)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		start = 1
	case err != nil:
		return 0, fmt.Errorf("storage: read counter: %w", err)
	default:
		if len(v) != 8 {
			closer.Close()
			return 0, s.corrupt("counter record of %d bytes", len(v))
		}
		start = binary.BigEndian.Uint64(v)
		closer.Close()
	}
	start = max(start, atLeast)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], start+n)
	if err := s.set(counterKey, b[:], pebble.Sync); err != nil {
		return 0, fmt.Errorf("storage: reserve counters: %w", err)
	}
	return start, nil
}

// Count returns the number of stored keys (a full scan; for status only).
func (s *Store) Count() (uint64, error) {
	var n uint64
	err := s.Scan(0, ^uint64(0), func(uint64, []byte, *kvpb.VersionSet) error { n++; return nil })
	return n, err
}
