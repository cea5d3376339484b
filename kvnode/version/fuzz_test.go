package version

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/vclock"
)

// FuzzDecodeContext: a client's context is outside bytes. Decoding never
// panics, and what it accepts encodes back to the same clock.
func FuzzDecodeContext(f *testing.F) {
	f.Add([]byte{})
	f.Add(EncodeContext(vclock.Clock{{Node: "n1", Counter: 3, Time: 5}, {Node: "n2", Counter: 1}}))
	f.Add([]byte{0xff, 0x01})
	f.Add(append(EncodeContext(vclock.Clock{{Node: "a", Counter: 1}}), EncodeContext(vclock.Clock{{Node: "a", Counter: 1}})...))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeContext(b)
		if err != nil {
			return
		}
		if err := c.Valid(); err != nil {
			t.Fatalf("accepted an invalid clock %v: %v", c, err)
		}
		back, err := DecodeContext(EncodeContext(c))
		if err != nil || !slices.Equal(back, c) {
			t.Fatalf("round trip of %v = %v, %v", c, back, err)
		}
	})
}

// FuzzMergeVersions: version sets arrive from peers and from disk. Any two
// that decode merge without panicking, in every mode, into no more versions
// than they hold together.
func FuzzMergeVersions(f *testing.F) {
	set := func(vs ...*kvpb.Version) []byte {
		b, _ := proto.Marshal(&kvpb.VersionSet{Versions: vs})
		return b
	}
	f.Add(set(), set())
	f.Add(set(&kvpb.Version{Value: []byte("a"), Timestamp: 5, Writer: "n1"}), set(&kvpb.Version{Value: []byte("b"), Timestamp: 6, Writer: "n2"}))
	f.Add(set(&kvpb.Version{Value: []byte("a"), Dot: &kvpb.ClockEntry{Node: "n1", Counter: 1}}),
		set(&kvpb.Version{Value: []byte("b"), Dot: &kvpb.ClockEntry{Node: "n1", Counter: 2}, Clock: []*kvpb.ClockEntry{{Node: "n1", Counter: 1}}}))
	f.Add(set(&kvpb.Version{Counter: 3, Writer: "n1", Tombstone: true}), []byte{0x0a, 0x02, 0x08})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var sa, sb kvpb.VersionSet
		if proto.Unmarshal(a, &sa) != nil || proto.Unmarshal(b, &sb) != nil {
			return
		}
		for _, mode := range []Mode{LWW, VClock, Linearizable} {
			out, _ := Merge(mode, sa.GetVersions(), sb.GetVersions())
			if len(out) > len(sa.GetVersions())+len(sb.GetVersions()) {
				t.Fatalf("%s: merged %d and %d versions into %d", mode, len(sa.GetVersions()), len(sb.GetVersions()), len(out))
			}
		}
	})
}
