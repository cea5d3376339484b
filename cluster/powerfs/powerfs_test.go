package powerfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/quorumlab/quorumlab/cluster/local"
	"github.com/quorumlab/quorumlab/cluster/powerfs"
)

// TestMain runs the tests in the private namespaces the harness uses, where
// a FUSE mount is allowed and vanishes with the test binary.
func TestMain(m *testing.M) {
	if !local.InNamespace() {
		code, err := local.Reexec(context.Background())
		if err == nil {
			os.Exit(code)
		}
		if !errors.Is(err, local.ErrNoNamespace) {
			fmt.Fprintln(os.Stderr, "re-executing the tests in a namespace:", err)
			os.Exit(3)
		}
	}
	os.Exit(m.Run())
}

func mount(t *testing.T) (*powerfs.FS, string) {
	t.Helper()
	if !local.InNamespace() {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs a private user+mount namespace")
		}
		t.Skip("needs a private user+mount namespace")
	}
	dir, backing := t.TempDir(), t.TempDir()
	f, err := powerfs.Mount(dir, backing)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Error(err)
		}
	})
	return f, backing
}

func writeAt(t *testing.T, path string, data []byte, off int64, sync bool) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := fh.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCrash(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16000 bytes: pages 0–3
	tests := []struct {
		name   string
		steps  func(t *testing.T, f *powerfs.FS, path string)
		before []byte // what reads show before the crash
		after  []byte // and after it
	}{
		{"unsynced write is lost", func(t *testing.T, f *powerfs.FS, p string) {
			writeAt(t, p, []byte("hello"), 0, false)
		}, []byte("hello"), []byte{}},
		{"synced write survives", func(t *testing.T, f *powerfs.FS, p string) {
			writeAt(t, p, []byte("hello"), 0, true)
		}, []byte("hello"), []byte("hello")},
		{"only the tail after the sync is lost", func(t *testing.T, f *powerfs.FS, p string) {
			writeAt(t, p, big, 0, true)
			writeAt(t, p, []byte("XY"), 4095, false) // across a page boundary
			writeAt(t, p, []byte("tail"), int64(len(big)), false)
		}, append(append(append(append([]byte{}, big[:4095]...), "XY"...), big[4097:]...), "tail"...), big},
		{"a sync through another handle syncs the file", func(t *testing.T, f *powerfs.FS, p string) {
			writeAt(t, p, []byte("abc"), 0, false)
			fh, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			if err := fh.Sync(); err != nil {
				t.Fatal(err)
			}
		}, []byte("abc"), []byte("abc")},
		{"truncate of unsynced data", func(t *testing.T, f *powerfs.FS, p string) {
			writeAt(t, p, big, 0, true)
			writeAt(t, p, []byte("zz"), 10, false)
			if err := os.Truncate(p, 11); err != nil {
				t.Fatal(err)
			}
		}, append(append([]byte{}, big[:10]...), 'z'), big[:11]},
		{"a hole reads as zeros", func(t *testing.T, f *powerfs.FS, p string) {
			writeAt(t, p, []byte("end"), 9000, true)
		}, append(make([]byte, 9000), "end"...), append(make([]byte, 9000), "end"...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, backing := mount(t)
			p := filepath.Join(f.Dir(), "f")
			tt.steps(t, f, p)
			if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, tt.before) {
				t.Fatalf("before the crash read %d bytes (%v), want %d", len(got), err, len(tt.before))
			}
			if st, err := os.Stat(p); err != nil || st.Size() != int64(len(tt.before)) {
				t.Fatalf("before the crash size %v (%v), want %d", st.Size(), err, len(tt.before))
			}
			f.Crash()
			for _, path := range []string{p, filepath.Join(backing, "f")} {
				if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, tt.after) {
					t.Fatalf("after the crash %s holds %d bytes (%v), want %d", path, len(got), err, len(tt.after))
				}
			}
		})
	}
}

// TestMetadataIsDurable: renames and creates reach the backing dir at once.
func TestMetadataIsDurable(t *testing.T) {
	f, backing := mount(t)
	a, b := filepath.Join(f.Dir(), "a"), filepath.Join(f.Dir(), "b")
	writeAt(t, a, []byte("data"), 0, false)
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(b); string(got) != "data" {
		t.Fatalf("renamed file reads %q", got)
	}
	if lost := f.Crash(); lost == 0 {
		t.Fatal("crash reported nothing lost")
	}
	st, err := os.Stat(filepath.Join(backing, "b"))
	if err != nil || st.Size() != 0 {
		t.Fatalf("renamed unsynced file after crash: %v, %v; want it present and empty", st, err)
	}
	if s := f.Stats(); s.Crashes != 1 || s.Lost == 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestWriters covers writers the database may not use today: a write-only
// handle writing inside a page it must load, a file replaced under its
// name, and allocations that would have to rewrite pending pages.
func TestWriters(t *testing.T) {
	t.Run("write-only handle", func(t *testing.T) {
		f, _ := mount(t)
		p := filepath.Join(f.Dir(), "f")
		writeAt(t, p, []byte("0123456789"), 0, true)
		fh, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.WriteAt([]byte("ab"), 3); err != nil {
			t.Fatalf("write inside a synced page through a write-only handle: %v", err)
		}
		fh.Close()
		if got, _ := os.ReadFile(p); string(got) != "012ab56789" {
			t.Fatalf("read %q", got)
		}
		f.Crash()
		if got, _ := os.ReadFile(p); string(got) != "0123456789" {
			t.Fatalf("after the crash %q, want the synced contents", got)
		}
	})
	t.Run("a replaced file's pending data goes with it", func(t *testing.T) {
		f, _ := mount(t)
		a, b := filepath.Join(f.Dir(), "a"), filepath.Join(f.Dir(), "b")
		writeAt(t, a, []byte("old unsynced"), 0, false)
		if err := os.Remove(a); err != nil {
			t.Fatal(err)
		}
		writeAt(t, b, []byte("new"), 0, true) // may reuse a's inode number
		if got, _ := os.ReadFile(b); string(got) != "new" {
			t.Fatalf("new file reads %q", got)
		}
		f.Crash()
		if got, _ := os.ReadFile(b); string(got) != "new" {
			t.Fatalf("after the crash the new file reads %q", got)
		}
	})
	t.Run("punching a hole is refused", func(t *testing.T) {
		f, _ := mount(t)
		p := filepath.Join(f.Dir(), "f")
		writeAt(t, p, bytes.Repeat([]byte("x"), 8192), 0, false)
		fh, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		err = unix.Fallocate(int(fh.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, 4096)
		if !errors.Is(err, unix.EOPNOTSUPP) {
			t.Fatalf("punch hole: %v, want EOPNOTSUPP", err)
		}
		if err := unix.Fallocate(int(fh.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, 1<<20); err != nil {
			t.Fatalf("preallocation: %v", err)
		}
	})
}
