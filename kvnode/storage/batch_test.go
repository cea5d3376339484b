package storage_test

import (
	"slices"
	"testing"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/storage"
)

// appendVal adds v to a key's set unless it holds it already.
func appendVal(v string) func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool) {
	return func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool) {
		for _, x := range old.GetVersions() {
			if string(x.GetValue()) == v {
				return old, false
			}
		}
		return set(append(slices.Clone(old.GetVersions()), val(v))...), true
	}
}

func values(t *testing.T, st *storage.Store, token uint64, key string) []string {
	t.Helper()
	s, err := st.Get(token, []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range s.GetVersions() {
		out = append(out, string(v.GetValue()))
	}
	return out
}

func TestUpdateMany(t *testing.T) {
	tests := []struct {
		name    string
		before  map[string]string // key → value stored first
		updates [][2]string       // key, value to add
		changed []bool
		after   map[string][]string
	}{
		{"new keys", nil, [][2]string{{"a", "1"}, {"b", "2"}}, []bool{true, true},
			map[string][]string{"a": {"1"}, "b": {"2"}}},
		{"unchanged key", map[string]string{"a": "1"}, [][2]string{{"a", "1"}, {"b", "2"}}, []bool{false, true},
			map[string][]string{"a": {"1"}, "b": {"2"}}},
		{"same key twice sees the first", nil, [][2]string{{"a", "1"}, {"a", "2"}, {"a", "1"}}, []bool{true, true, false},
			map[string][]string{"a": {"1", "2"}}},
		{"nothing changes", map[string]string{"a": "1"}, [][2]string{{"a", "1"}}, []bool{false},
			map[string][]string{"a": {"1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openTemp(t)
			for k, v := range tt.before {
				put(t, st, 1, []byte(k), set(val(v)))
			}
			var us []storage.KeyUpdate
			for _, u := range tt.updates {
				us = append(us, storage.KeyUpdate{Token: 1, Key: []byte(u[0]), Fn: appendVal(u[1])})
			}
			changed, err := st.UpdateMany(us)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(changed, tt.changed) {
				t.Fatalf("changed = %v, want %v", changed, tt.changed)
			}
			for k, want := range tt.after {
				if got := values(t, st, 1, k); !slices.Equal(got, want) {
					t.Fatalf("%s = %v, want %v", k, got, want)
				}
			}
		})
	}
}
