package storage_test

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/storage"
)

func putHint(t *testing.T, st *storage.Store, owner string, token uint64, key string, s *kvpb.VersionSet) {
	t.Helper()
	if _, err := st.UpdateHint(owner, token, []byte(key), func(*kvpb.VersionSet) (*kvpb.VersionSet, bool) { return s, true }); err != nil {
		t.Fatal(err)
	}
}

func hintList(t *testing.T, st *storage.Store) []string {
	t.Helper()
	var out []string
	err := st.ScanHints(func(owner string, token uint64, key []byte, s *kvpb.VersionSet) error {
		out = append(out, fmt.Sprintf("%s/%d/%s=%s", owner, token, key, s.GetVersions()[0].GetValue()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHintsApartFromData(t *testing.T) {
	st := openTemp(t)
	put(t, st, 5, []byte("k"), set(val("data")))
	putHint(t, st, "n2", 5, "k", set(val("for-n2")))
	putHint(t, st, "n3", 5, "k", set(val("for-n3")))
	// Keys whose encodings could run into each other: "k" for owner "n2x"
	// against "kn" for owner "2x".
	putHint(t, st, "2x", 5, "kn", set(val("kn-for-2x")))
	putHint(t, st, "n2", 1, "a", set(val("a-for-n2")))

	if got, _ := st.Get(5, []byte("k")); string(got.GetVersions()[0].GetValue()) != "data" {
		t.Fatalf("data under k = %v: hints leaked into the data keyspace", got)
	}
	if n, _ := st.Count(); n != 1 {
		t.Fatalf("Count = %d, want 1: hints are counted as data", n)
	}
	if n, _ := st.CountHints(); n != 4 {
		t.Fatalf("CountHints = %d, want 4", n)
	}
	want := []string{"n2/1/a=a-for-n2", "n2/5/k=for-n2", "n3/5/k=for-n3", "2x/5/kn=kn-for-2x"}
	if got := hintList(t, st); !slices.Equal(got, want) {
		t.Fatalf("ScanHints = %v, want %v", got, want)
	}
	hs, err := st.KeyHints(5, []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, h := range hs {
		vals = append(vals, string(h.GetVersions()[0].GetValue()))
	}
	slices.Sort(vals)
	if !slices.Equal(vals, []string{"for-n2", "for-n3"}) {
		t.Fatalf("KeyHints(k) = %v, want k's hints for n2 and n3 only", vals)
	}
}

func TestDeleteIf(t *testing.T) {
	tests := []struct {
		name    string
		stored  *kvpb.VersionSet // nil: absent
		sent    *kvpb.VersionSet
		deleted bool
	}{
		{"unchanged since sent", set(val("a")), set(val("a")), true},
		{"a write arrived since", set(val("a"), val("b")), set(val("a")), false},
		{"absent", nil, set(val("a")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openTemp(t)
			if tt.stored != nil {
				put(t, st, 9, []byte("k"), tt.stored)
				putHint(t, st, "n2", 9, "k", tt.stored)
			}
			got, err := st.DeleteIf(9, []byte("k"), tt.sent)
			if err != nil || got != tt.deleted {
				t.Fatalf("DeleteIf = %v, %v; want %v", got, err, tt.deleted)
			}
			gotH, err := st.DeleteHintIf("n2", 9, []byte("k"), tt.sent)
			if err != nil || gotH != tt.deleted {
				t.Fatalf("DeleteHintIf = %v, %v; want %v", gotH, err, tt.deleted)
			}
			left, _ := st.Get(9, []byte("k"))
			if (tt.deleted || tt.stored == nil) != (left == nil) {
				t.Fatalf("after DeleteIf the key holds %v", left)
			}
			if tt.stored != nil && !tt.deleted && !proto.Equal(left, tt.stored) {
				t.Fatalf("a refused DeleteIf changed the key: %v", left)
			}
			if n, _ := st.CountHints(); (n == 0) != (tt.deleted || tt.stored == nil) {
				t.Fatalf("%d hints left", n)
			}
		})
	}
}

func TestMeta(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir, true)
	if v, err := st.Meta("ring"); v != nil || err != nil {
		t.Fatalf("Meta of a fresh store = %q, %v", v, err)
	}
	if err := st.SetMeta("ring", []byte("state")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = open(t, dir, true)
	defer st.Close()
	if v, err := st.Meta("ring"); string(v) != "state" || err != nil {
		t.Fatalf("Meta after reopening = %q, %v", v, err)
	}
	if n, _ := st.Count(); n != 0 {
		t.Fatalf("metadata counted as data: %d keys", n)
	}
}
