package storage_test

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/ring"
	"github.com/quorumlab/quorumlab/kvnode/storage"
)

func open(t *testing.T, dir string, sync bool) *storage.Store {
	t.Helper()
	s, err := storage.Open(storage.Options{Dir: dir, Sync: sync})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openTemp opens a store in a fresh directory, closed at the end of the test.
func openTemp(t *testing.T) *storage.Store {
	t.Helper()
	s := open(t, t.TempDir(), false)
	t.Cleanup(func() { s.Close() })
	return s
}

func set(vs ...*kvpb.Version) *kvpb.VersionSet { return &kvpb.VersionSet{Versions: vs} }

func val(v string) *kvpb.Version { return &kvpb.Version{Value: []byte(v), Timestamp: 1, Writer: "n1"} }

// put stores s under key unconditionally.
func put(t *testing.T, st *storage.Store, token uint64, key []byte, s *kvpb.VersionSet) {
	t.Helper()
	if _, err := st.Update(token, key, func(*kvpb.VersionSet) (*kvpb.VersionSet, bool) { return s, true }); err != nil {
		t.Fatal(err)
	}
}

func TestOpenEmptyDir(t *testing.T) {
	if _, err := storage.Open(storage.Options{}); err == nil {
		t.Fatal("Open with an empty dir succeeded")
	}
}

func TestUpdateGetRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		key    []byte
		writes []*kvpb.VersionSet // applied in order; the last must be read back
	}{
		{"one version", []byte("k"), []*kvpb.VersionSet{set(val("v1"))}},
		{"overwrite", []byte("k"), []*kvpb.VersionSet{set(val("v1")), set(val("v2"))}},
		{"siblings with clocks", []byte("cart"), []*kvpb.VersionSet{set(
			&kvpb.Version{Value: []byte("a"), Dot: &kvpb.ClockEntry{Node: "n1", Counter: 3, Time: 7}},
			&kvpb.Version{Value: []byte("b"), Dot: &kvpb.ClockEntry{Node: "n2", Counter: 1, Time: 8},
				Clock: []*kvpb.ClockEntry{{Node: "n1", Counter: 2, Time: 5}}},
		)}},
		{"tombstone", []byte("gone"), []*kvpb.VersionSet{set(val("v")), set(&kvpb.Version{Tombstone: true, Timestamp: 2, Writer: "n2"})}},
		{"linearizable tag", []byte("reg"), []*kvpb.VersionSet{set(&kvpb.Version{Value: []byte("x"), Counter: math.MaxUint64, Writer: "n3"})}},
		{"empty value", []byte("e"), []*kvpb.VersionSet{set(&kvpb.Version{})}},
		{"binary key", []byte{0, 0xff, 'd', 0}, []*kvpb.VersionSet{set(val("bin"))}},
		{"value with zero bytes", []byte("z"), []*kvpb.VersionSet{set(&kvpb.Version{Value: make([]byte, 10240)})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openTemp(t)
			token := ring.Token(tt.key)
			if got, err := st.Get(token, tt.key); err != nil || got != nil {
				t.Fatalf("Get before any write = %v, %v; want nil, nil", got, err)
			}
			var prev *kvpb.VersionSet
			for i, w := range tt.writes {
				stored, err := st.Update(token, tt.key, func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool) {
					if !proto.Equal(old, prev) {
						t.Errorf("write %d: fn saw %v, want the previous write %v", i, old, prev)
					}
					return w, true
				})
				if err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(stored, w) {
					t.Fatalf("write %d: Update returned %v, want %v", i, stored, w)
				}
				prev = w
			}
			got, err := st.Get(token, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.writes[len(tt.writes)-1]
			if !proto.Equal(got, want) {
				t.Fatalf("Get = %v, want %v", got, want)
			}
			// The token is part of the stored key: another token does not find it.
			if got, err := st.Get(token+1, tt.key); err != nil || got != nil {
				t.Fatalf("Get under another token = %v, %v; want nil, nil", got, err)
			}
		})
	}
}

func TestUpdateUnchangedWritesNothing(t *testing.T) {
	existing := set(val("old"))
	tests := []struct {
		name     string
		start    *kvpb.VersionSet // stored first; nil: the key is absent
		wantKeys uint64
	}{
		{"absent key", nil, 0},
		{"existing key", existing, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			st := open(t, dir, true)
			key := []byte("k")
			token := ring.Token(key)
			if tt.start != nil {
				put(t, st, token, key, tt.start)
			}
			ret, err := st.Update(token, key, func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool) {
				return set(val("must not be stored")), false
			})
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(ret, tt.start) {
				t.Fatalf("Update(changed=false) returned %v, want the current set %v", ret, tt.start)
			}
			check := func(when string) {
				t.Helper()
				got, err := st.Get(token, key)
				if err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(got, tt.start) || (tt.start == nil) != (got == nil) {
					t.Fatalf("%s: Get = %v, want %v", when, got, tt.start)
				}
				if n, err := st.Count(); err != nil || n != tt.wantKeys {
					t.Fatalf("%s: Count = %d, %v; want %d", when, n, err, tt.wantKeys)
				}
			}
			check("after Update")
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			st = open(t, dir, true)
			defer st.Close()
			check("after reopen")
		})
	}
}

type entry struct {
	token uint64
	key   string
}

func cmpEntry(a, b entry) int {
	return cmp.Or(cmp.Compare(a.token, b.token), cmp.Compare(a.key, b.key))
}

func TestScan(t *testing.T) {
	st := openTemp(t)
	var all []entry
	for i := range 400 {
		k := fmt.Sprintf("key-%d", i)
		all = append(all, entry{ring.Token([]byte(k)), k})
	}
	// Hand-placed tokens at the edges of the token space, and two keys
	// sharing a token (a hash collision).
	for _, e := range []entry{
		{0, "edge-zero"}, {1, "edge-one"},
		{math.MaxUint64 - 1, "edge-max-1"}, {math.MaxUint64, "edge-max"}, {math.MaxUint64, "edge-max-b"},
		{1 << 63, "collide-a"}, {1 << 63, "collide-b"},
	} {
		all = append(all, e)
	}
	for _, e := range all {
		put(t, st, e.token, []byte(e.key), set(val("v:"+e.key)))
	}
	// A record outside the data prefix must never show up in a scan.
	if _, err := st.ReserveCounters(0, 10); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(all, cmpEntry)
	mid := all[len(all)/2].token

	tests := []struct {
		name     string
		from, to uint64
	}{
		{"whole ring", 0, math.MaxUint64},
		{"lower half", 0, math.MaxUint64 / 2},
		{"upper half to max", math.MaxUint64/2 + 1, math.MaxUint64},
		{"exact stored bounds", all[10].token, all[300].token},
		{"from just past a token", all[10].token + 1, all[300].token},
		{"to just before a token", all[10].token, all[300].token - 1},
		{"single token", mid, mid},
		{"colliding token", 1 << 63, 1 << 63},
		{"max only", math.MaxUint64, math.MaxUint64},
		{"zero only", 0, 0},
		{"max-1 to max", math.MaxUint64 - 1, math.MaxUint64},
		{"empty gap", all[100].token + 1, all[101].token - 1},
		{"from after to is empty", all[300].token, all[10].token},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []entry
			for _, e := range all {
				if tt.from <= e.token && e.token <= tt.to {
					want = append(want, e)
				}
			}
			var got []entry
			err := st.Scan(tt.from, tt.to, func(token uint64, key []byte, s *kvpb.VersionSet) error {
				if v := string(s.GetVersions()[0].GetValue()); v != "v:"+string(key) {
					t.Errorf("key %q scanned with value %q", key, v)
				}
				got = append(got, entry{token, string(key)})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, want, func(a, b entry) bool { return a == b }) {
				t.Fatalf("Scan(%d, %d): got %d keys, want %d\ngot  %v\nwant %v", tt.from, tt.to, len(got), len(want), got, want)
			}
			if !slices.IsSortedFunc(got, cmpEntry) {
				t.Fatalf("Scan not in token order: %v", got)
			}
		})
	}
	if n, err := st.Count(); err != nil || n != uint64(len(all)) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(all))
	}
}

func TestScanStopsAtError(t *testing.T) {
	st := openTemp(t)
	for i := range 20 {
		k := []byte(fmt.Sprintf("k%d", i))
		put(t, st, ring.Token(k), k, set(val("v")))
	}
	stop := errors.New("stop")
	tests := []struct {
		name    string
		failAt  int // fn fails on this call (1-based)
		wantErr error
		calls   int
	}{
		{"first", 1, stop, 1},
		{"fifth", 5, stop, 5},
		{"never", 0, nil, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := st.Scan(0, math.MaxUint64, func(uint64, []byte, *kvpb.VersionSet) error {
				calls++
				if calls == tt.failAt {
					return stop
				}
				return nil
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Scan error = %v, want %v", err, tt.wantErr)
			}
			if calls != tt.calls {
				t.Fatalf("fn called %d times, want %d", calls, tt.calls)
			}
		})
	}
}

func TestReserveCounters(t *testing.T) {
	type req struct{ atLeast, n uint64 }
	tests := []struct {
		name string
		// Each inner slice runs on one opening of the store; the store is
		// closed and reopened between them.
		sessions [][]req
	}{
		{"successive blocks", [][]req{{{0, 10}, {0, 10}, {0, 1}, {0, 10000}}}},
		{"atLeast jumps ahead", [][]req{{{0, 10}, {500, 10}, {0, 10}, {100, 5}}}},
		{"atLeast below the next free value is ignored", [][]req{{{0, 100}, {50, 10}}}},
		{"survives reopen", [][]req{{{0, 10000}}, {{0, 10000}}, {{1, 10}, {0, 10}}}},
		{"atLeast across reopen", [][]req{{{1 << 40, 10}}, {{0, 10}, {5, 10}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			type block struct{ start, end uint64 } // [start, end)
			var blocks []block
			for si, reqs := range tt.sessions {
				st := open(t, dir, false)
				for _, r := range reqs {
					start, err := st.ReserveCounters(r.atLeast, r.n)
					if err != nil {
						t.Fatal(err)
					}
					if start == 0 {
						t.Fatalf("session %d: block starts at 0; counter 0 means absent in a clock", si)
					}
					if start < r.atLeast {
						t.Fatalf("session %d: ReserveCounters(%d, %d) = %d, below atLeast", si, r.atLeast, r.n, start)
					}
					b := block{start, start + r.n}
					for _, p := range blocks {
						if b.start < p.end && p.start < b.end {
							t.Fatalf("session %d: block [%d, %d) overlaps earlier [%d, %d)", si, b.start, b.end, p.start, p.end)
						}
						if b.start < p.end {
							t.Fatalf("session %d: block [%d, %d) starts below earlier block's end %d", si, b.start, b.end, p.end)
						}
					}
					blocks = append(blocks, b)
				}
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

const crashEnv = "QUORUMLAB_STORAGE_CRASH_DIR"

func crashKey(i int) []byte   { return []byte("k" + strconv.Itoa(i)) }
func crashValue(i int) []byte { return []byte("value-" + strconv.Itoa(i)) }

// TestCrashHelper is the child process of TestCrashKeepsAcknowledgedWrites:
// it writes k0, k1, … with Sync on and prints each index once Update has
// returned. It does nothing in a normal test run.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("crash helper: runs only as the child of TestCrashKeepsAcknowledgedWrites")
	}
	st, err := storage.Open(storage.Options{Dir: dir, Sync: true})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		k := crashKey(i)
		_, err := st.Update(ring.Token(k), k, func(*kvpb.VersionSet) (*kvpb.VersionSet, bool) {
			return set(&kvpb.Version{Value: crashValue(i), Timestamp: int64(i), Writer: "n1"}), true
		})
		if err != nil {
			fmt.Println("update:", err)
			os.Exit(2)
		}
		// Unbuffered: the parent sees the ack as soon as it is written.
		// Once the parent stops reading and kills us, nothing more matters.
		fmt.Println(i)
	}
}

func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	const acks = 500
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
	}()

	last := -1 // highest acknowledged index
	var other []string
	sc := bufio.NewScanner(stdout)
	for last+1 < acks && sc.Scan() {
		i, err := strconv.Atoi(sc.Text())
		if err != nil {
			other = append(other, sc.Text())
			continue
		}
		if i != last+1 {
			t.Fatalf("child acknowledged %d after %d", i, last)
		}
		last = i
	}
	if last+1 < acks {
		t.Fatalf("child stopped after %d acks (scan err %v)\nstdout: %s\nstderr: %s", last+1, sc.Err(), strings.Join(other, "\n"), stderr.String())
	}
	// Kill while the child is mid-write: it keeps writing until the signal.
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\nstderr: %s", err, stderr.String())
	}

	st := open(t, dir, true)
	defer st.Close()
	for i := 0; i <= last; i++ {
		k := crashKey(i)
		got, err := st.Get(ring.Token(k), k)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil {
			t.Fatalf("acknowledged write %s lost after SIGKILL (%d acknowledged)", k, last+1)
		}
		if v := got.GetVersions(); len(v) != 1 || string(v[0].GetValue()) != string(crashValue(i)) {
			t.Fatalf("%s after SIGKILL = %v, want %q", k, got, crashValue(i))
		}
	}
	// Writes past the last ack may or may not have made it, but the log is
	// replayed in order: what survives is a prefix k0..km, without holes and
	// with the right values.
	n, err := st.Count()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < int(n); i++ {
		k := crashKey(i)
		got, err := st.Get(ring.Token(k), k)
		if err != nil {
			t.Fatal(err)
		}
		if v := got.GetVersions(); len(v) != 1 || string(v[0].GetValue()) != string(crashValue(i)) {
			t.Fatalf("%d keys survived but %s = %v: not a prefix of the writes", n, k, got)
		}
	}
	t.Logf("%d writes acknowledged before SIGKILL, %d survived", last+1, n)
}
