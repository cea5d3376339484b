package storage_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/ring"
	"github.com/quorumlab/quorumlab/kvnode/storage"
)

// crashImage copies a live store's files, as a crash would leave them
// once nothing is being written.
func crashImage(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestLedgerDetectsLostWAL: Pebble opens a store whose newest WAL lost
// synced writes without complaint; the write ledger makes it damaged, after
// a clean Close and after a crash (once the ledger interval passed). An
// intact store is never reported damaged.
func TestLedgerDetectsLostWAL(t *testing.T) {
	for _, crash := range []bool{false, true} {
		for _, cut := range []bool{false, true} {
			t.Run(fmt.Sprintf("crash=%v/cut=%v", crash, cut), func(t *testing.T) {
				dir := t.TempDir()
				st := open(t, dir, true)
				const keys = 300
				for i := range keys {
					put(t, st, ring.Token(crashKey(i)), crashKey(i), set(val("v")))
				}
				if crash {
					time.Sleep(3 * storage.LedgerInterval)
					dir = crashImage(t, dir)
				}
				st.Close()
				if cut {
					logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
					slices.Sort(logs)
					b, err := os.ReadFile(logs[len(logs)-1])
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(logs[len(logs)-1], b[:len(b)/2], 0o644); err != nil {
						t.Fatal(err)
					}
				}
				st = open(t, dir, true)
				defer st.Close()
				n, err := st.Count()
				switch {
				case cut && (st.Damage() == nil || !errors.Is(err, storage.ErrDamaged)):
					t.Fatalf("WAL cut in half: damage %v, Count = %d, %v; want the store damaged", st.Damage(), n, err)
				case !cut && (st.Damage() != nil || err != nil || n != keys):
					t.Fatalf("intact store: damage %v, Count = %d, %v; want %d keys", st.Damage(), n, err, keys)
				}
			})
		}
	}
}
