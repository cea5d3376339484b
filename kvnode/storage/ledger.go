package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Damage detection.
//
// Pebble replays the newest WAL up to its first bad or missing chunk and
// opens without an error: a WAL cut short or with flipped bytes in its
// last block silently drops every write after the damage, synced or not.
// So the store keeps a write ledger outside Pebble: every synced commit
// raises a durable lower bound of Pebble's sequence numbers (the "next"
// sequence number after that commit), and the ledger file records it,
// fsynced, every LedgerInterval while writes happen and at Close. On Open a
// probe commit learns where Pebble's recovered sequence stands; below the
// ledger, synced writes were lost and the store is damaged.
//
// The residual window: writes synced in the last LedgerInterval before a
// crash (not a clean Close) are not in the ledger yet, so a WAL damaged
// exactly there loses them undetected.
//
// Read-time corruption (a checksum mismatch in an SST block) reaches Pebble's
// DataCorruption event and surfaces as an error satisfying
// pebble.IsCorruptionError; either marks the store damaged. Pebble's default
// DataCorruption handler calls Logger.Fatalf, which is what used to take the
// node down on the first read of a flipped block.
//
// A damaged store answers every call with a *DamageError (errors.Is
// ErrDamaged) and stops writing its ledger, so the evidence stays.

// LedgerInterval is how often the write ledger is brought up to date while
// writes happen.
const LedgerInterval = 100 * time.Millisecond

// LedgerFile is the write ledger's name in the data dir.
const LedgerFile = "KVNODE-LEDGER"

const ledgerMagic = "KVLEDGR1"

// ErrDamaged matches every error of a damaged store.
var ErrDamaged = errors.New("storage: store damaged")

// DamageError says what was found wrong with a store.
type DamageError struct {
	Dir    string
	Reason string
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("storage: store in %s is damaged: %s", e.Dir, e.Reason)
}

func (e *DamageError) Is(target error) bool { return target == ErrDamaged }

// damage is a store's damage state and its write ledger.
type damage struct {
	dir string

	mu       sync.Mutex
	err      *DamageError
	onDamage func(error)

	corruptions atomic.Uint64
	synced      atomic.Uint64 // lower bound of the durable next sequence number
	written     uint64        // what the ledger file holds; ledger loop and Close only

	stop chan struct{}
	done chan struct{}
}

// Damage returns why the store is damaged, or nil.
func (s *Store) Damage() error {
	s.dmg.mu.Lock()
	defer s.dmg.mu.Unlock()
	if s.dmg.err == nil {
		return nil
	}
	return s.dmg.err
}

// Corruptions counts the corruption errors the store met (Pebble's
// corruption events and errors, undecodable records, a lost WAL tail).
func (s *Store) Corruptions() uint64 { return s.dmg.corruptions.Load() }

// NotifyDamage makes fn be called once when the store becomes damaged, at
// once if it is already. fn must not block: it may run in a read path.
func (s *Store) NotifyDamage(fn func(error)) {
	s.dmg.mu.Lock()
	err := s.dmg.err
	if err == nil {
		s.dmg.onDamage = fn
	}
	s.dmg.mu.Unlock()
	if err != nil {
		fn(err)
	}
}

// markDamaged records the first damage found; later ones only count.
func (s *Store) markDamaged(reason string) *DamageError {
	s.dmg.corruptions.Add(1)
	s.dmg.mu.Lock()
	if s.dmg.err != nil {
		err := s.dmg.err
		s.dmg.mu.Unlock()
		return err
	}
	err := &DamageError{Dir: s.dmg.dir, Reason: reason}
	s.dmg.err = err
	fn := s.dmg.onDamage
	s.dmg.onDamage = nil
	s.dmg.mu.Unlock()
	if fn != nil {
		fn(err)
	}
	return err
}

// check refuses every call on a damaged store.
func (s *Store) check() error {
	if err := s.Damage(); err != nil {
		return err
	}
	return nil
}

// fail turns a Pebble corruption error into damage.
func (s *Store) fail(err error) error {
	if err != nil && pebble.IsCorruptionError(err) {
		return s.markDamaged(fmt.Sprintf("pebble reported corruption: %v", err))
	}
	return err
}

// corrupt records an undecodable record as damage.
func (s *Store) corrupt(format string, args ...any) error {
	return s.markDamaged(fmt.Sprintf(format, args...))
}

func (s *Store) eventListener() *pebble.EventListener {
	return &pebble.EventListener{
		// Called synchronously in the read path: record and return; the
		// read then fails with a corruption error.
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			s.markDamaged(fmt.Sprintf("on-disk corruption in %s: %v", info.Path, info.Details))
		},
		BackgroundError: func(err error) {
			if pebble.IsCorruptionError(err) {
				s.markDamaged(fmt.Sprintf("pebble background error: %v", err))
				return
			}
			quietLogger{}.Errorf("background error: %s", err)
		},
	}
}

// commit commits b and, if it was synced, raises the ledger's bound.
func (s *Store) commit(b *pebble.Batch, o *pebble.WriteOptions) error {
	if err := b.Commit(o); err != nil {
		return s.fail(err)
	}
	if o.GetSync() {
		// Pebble writes batches to the WAL in sequence order, so this sync
		// covers every lower sequence number too.
		next := uint64(b.SeqNum()) + uint64(b.Count())
		for {
			cur := s.dmg.synced.Load()
			if next <= cur || s.dmg.synced.CompareAndSwap(cur, next) {
				break
			}
		}
	}
	return nil
}

var openProbeKey = []byte(metaPrefix + "opened")

// checkLedger compares what Pebble recovered with the ledger, then starts
// the ledger loop unless the store is damaged.
func (s *Store) checkLedger() error {
	want, err := readLedger(s.dmg.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		// The ledger is fsynced and replaced atomically: damage to it is
		// damage to the disk.
		s.markDamaged(fmt.Sprintf("write ledger unreadable: %v", err))
		return nil
	}
	// The probe's sequence number is the first after everything Pebble
	// recovered.
	b := s.db.NewBatch()
	defer b.Close()
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(time.Now().UnixNano()))
	if err := b.Set(openProbeKey, ts[:], nil); err != nil {
		return fmt.Errorf("storage: open probe: %w", err)
	}
	if err := s.commit(b, pebble.Sync); err != nil {
		return fmt.Errorf("storage: open probe: %w", err)
	}
	if got := uint64(b.SeqNum()); got < want {
		s.markDamaged(fmt.Sprintf("the write-ahead log lost synced writes: Pebble recovered up to sequence number %d, but writes up to %d were synced (%s)",
			got, want, filepath.Join(s.dmg.dir, LedgerFile)))
		return nil
	}
	if err := s.writeLedger(); err != nil {
		return err
	}
	s.dmg.stop, s.dmg.done = make(chan struct{}), make(chan struct{})
	go s.ledgerLoop()
	return nil
}

func (s *Store) ledgerLoop() {
	defer close(s.dmg.done)
	t := time.NewTicker(LedgerInterval)
	defer t.Stop()
	for {
		select {
		case <-s.dmg.stop:
			return
		case <-t.C:
		}
		if s.Damage() != nil {
			return // keep the evidence
		}
		if err := s.writeLedger(); err != nil {
			quietLogger{}.Errorf("write ledger: %v", err)
		}
	}
}

// stopLedger stops the loop and, on an undamaged store, records the final
// bound (after Close every synced write is in it: no window).
func (s *Store) stopLedger() error {
	if s.dmg.stop == nil {
		return nil
	}
	close(s.dmg.stop)
	<-s.dmg.done
	s.dmg.stop = nil
	if s.Damage() != nil {
		return nil
	}
	return s.writeLedger()
}

// writeLedger replaces the ledger file if the bound rose: written to a
// temporary file, fsynced, renamed, and the directory fsynced, so a crash
// leaves the old or the new ledger, never a torn one.
func (s *Store) writeLedger() error {
	next := s.dmg.synced.Load()
	if next <= s.dmg.written {
		return nil
	}
	var b [20]byte
	copy(b[:8], ledgerMagic)
	binary.BigEndian.PutUint64(b[8:16], next)
	binary.BigEndian.PutUint32(b[16:], crc32.Checksum(b[:16], crc32.MakeTable(crc32.Castagnoli)))
	path := filepath.Join(s.dmg.dir, LedgerFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("storage: ledger: %w", err)
	}
	_, err = f.Write(b[:])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(s.dmg.dir)
	}
	if err != nil {
		return fmt.Errorf("storage: ledger: %w", err)
	}
	s.dmg.written = next
	return nil
}

// readLedger returns the recorded bound (os.ErrNotExist if there is no
// ledger: a new store, or one from before ledgers).
func readLedger(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, LedgerFile))
	if err != nil {
		return 0, err
	}
	if len(b) != 20 || string(b[:8]) != ledgerMagic ||
		binary.BigEndian.Uint32(b[16:]) != crc32.Checksum(b[:16], crc32.MakeTable(crc32.Castagnoli)) {
		return 0, fmt.Errorf("%s: bad magic, length or checksum", LedgerFile)
	}
	return binary.BigEndian.Uint64(b[8:16]), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
