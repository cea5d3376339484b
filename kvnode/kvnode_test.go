package kvnode_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

var modes = []version.Mode{version.LWW, version.VClock, version.Linearizable}

func strs(vs [][]byte) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	slices.Sort(out)
	return out
}

func TestQuorumReadWrite(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			tc := startCluster(t, 3, func(c *kvnode.Config) { c.Mode = mode })
			ctx := ctxT(t)
			c1, c2 := tc.clients[0], tc.clients[1]
			if err := c1.Put(ctx, "k", []byte("v1"), nil); err != nil {
				t.Fatalf("put: %v", err)
			}
			res, err := c2.Get(ctx, "k")
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if got := strs(res.Values); !slices.Equal(got, []string{"v1"}) {
				t.Fatalf("get via another coordinator = %v, want [v1]", got)
			}
			if res, _ := c1.Get(ctx, "absent"); len(res.Values) != 0 {
				t.Fatalf("absent key returned %v", strs(res.Values))
			}
			if err := c1.Delete(ctx, "k", res.Context); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if res, err := c2.Get(ctx, "k"); err != nil || len(res.Values) != 0 {
				t.Fatalf("after delete: %v %v", strs(res.Values), err)
			}

			// One replica down: W=2 and R=2 still succeed.
			tc.stop(2)
			if err := c1.Put(ctx, "k2", []byte("v2"), nil); err != nil {
				t.Fatalf("put with one replica down: %v", err)
			}
			if res, err := c2.Get(ctx, "k2"); err != nil || !slices.Equal(strs(res.Values), []string{"v2"}) {
				t.Fatalf("get with one replica down: %v %v", strs(res.Values), err)
			}

			// Two down: the write is definitely not applied…
			tc.stop(1)
			err = c1.Put(ctx, "k3", []byte("lost"), nil)
			if client.KindOf(err) != client.Unavailable {
				t.Fatalf("put with two replicas down: err = %v, want unavailable", err)
			}
			// …and once they are back no read sees it.
			tc.start(1)
			tc.start(2)
			eventually(t, "read after restart", func() error {
				res, err := tc.clients[2].Get(ctx, "k3", client.WithR(3))
				if err != nil {
					return err
				}
				if len(res.Values) != 0 {
					t.Fatalf("failed write is visible: %v", strs(res.Values))
				}
				return nil
			})
		})
	}
}

func TestVClockSiblings(t *testing.T) {
	tc := startCluster(t, 3, func(c *kvnode.Config) { c.Mode = version.VClock })
	ctx := ctxT(t)
	// Two writes from the same (empty) context through different
	// coordinators, and one more through the first coordinator: three
	// concurrent versions.
	for i, v := range []string{"a", "b", "c"} {
		if err := tc.clients[i%2].Put(ctx, "cart", []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	res, err := tc.clients[2].Get(ctx, "cart", client.WithR(3))
	if err != nil {
		t.Fatal(err)
	}
	if got := strs(res.Values); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("siblings = %v, want [a b c]", got)
	}
	// A write with the merged context supersedes all three.
	merged := strings.Join(client.SetElements([][]byte{[]byte("a"), []byte("b,c")}), ",")
	if err := tc.clients[2].Put(ctx, "cart", []byte(merged), res.Context); err != nil {
		t.Fatal(err)
	}
	for i, c := range tc.clients {
		res, err := c.Get(ctx, "cart", client.WithR(3))
		if err != nil {
			t.Fatal(err)
		}
		if got := strs(res.Values); !slices.Equal(got, []string{"a,b,c"}) {
			t.Fatalf("node %d after reconciliation: %v, want [a,b,c]", i+1, got)
		}
	}
	// A write with a stale context (it saw only the reconciled version's
	// ancestors) becomes a sibling, not an overwrite.
	if err := tc.clients[0].Put(ctx, "cart", []byte("d"), res.Context); err != nil {
		t.Fatal(err)
	}
	if err := tc.clients[1].Put(ctx, "cart", []byte("e"), res.Context); err != nil {
		t.Fatal(err)
	}
	res, _ = tc.clients[2].Get(ctx, "cart", client.WithR(3))
	if got := strs(res.Values); !slices.Equal(got, []string{"a,b,c", "d", "e"}) && !slices.Equal(got, []string{"d", "e"}) {
		t.Fatalf("concurrent writes from one context = %v, want siblings d and e", got)
	}
}

func TestLWWHigherTimestampWins(t *testing.T) {
	tc := startCluster(t, 3, func(c *kvnode.Config) { c.Mode = version.LWW })
	ctx := ctxT(t)
	if err := tc.clients[0].Put(ctx, "k", []byte("first"), nil); err != nil {
		t.Fatal(err)
	}
	if err := tc.clients[1].Put(ctx, "k", []byte("second"), nil); err != nil {
		t.Fatal(err)
	}
	if res, _ := tc.clients[2].Get(ctx, "k"); !slices.Equal(strs(res.Values), []string{"second"}) {
		t.Fatalf("got %v, want the later write", strs(res.Values))
	}
	// n1's clock one hour behind: its later write loses to the earlier one.
	if err := tc.clients[0].SetClockOffset(ctx, -time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := tc.clients[0].Put(ctx, "k", []byte("skewed"), nil); err != nil {
		t.Fatal(err)
	}
	if res, _ := tc.clients[2].Get(ctx, "k", client.WithR(3)); !slices.Equal(strs(res.Values), []string{"second"}) {
		t.Fatalf("got %v: a write stamped an hour in the past must lose", strs(res.Values))
	}
	// An hour ahead: it wins over anything written since.
	if err := tc.clients[0].SetClockOffset(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	tc.clients[0].Put(ctx, "k", []byte("future"), nil)
	tc.clients[1].Put(ctx, "k", []byte("now"), nil)
	if res, _ := tc.clients[2].Get(ctx, "k", client.WithR(3)); !slices.Equal(strs(res.Values), []string{"future"}) {
		t.Fatalf("got %v, want the write stamped an hour ahead", strs(res.Values))
	}
	st, err := tc.clients[0].Status(ctx)
	if err != nil || time.Duration(st.GetClockOffsetNs()) != time.Hour {
		t.Fatalf("status clock offset = %v, %v", st.GetClockOffsetNs(), err)
	}
}

func TestInvalidArguments(t *testing.T) {
	tc := startCluster(t, 3, func(c *kvnode.Config) { c.Mode = version.VClock })
	ctx := ctxT(t)
	c := tc.clients[0]
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"empty key", func() error { err := c.Put(ctx, "", []byte("v"), nil); return err }, "key is empty"},
		{"oversize key", func() error { err := c.Put(ctx, strings.Repeat("k", 1025), []byte("v"), nil); return err }, "limit is 1024"},
		{"oversize key get", func() error { _, err := c.Get(ctx, strings.Repeat("k", 1025)); return err }, "limit is 1024"},
		{"oversize value", func() error { err := c.Put(ctx, "k", make([]byte, 10*1024+1), nil); return err }, "limit is 10240 bytes"},
		{"W too large", func() error { err := c.Put(ctx, "k", []byte("v"), nil, client.WithW(4)); return err }, "W=4"},
		{"R too large", func() error { _, err := c.Get(ctx, "k", client.WithR(9)); return err }, "R=9"},
		{"malformed context", func() error { err := c.Put(ctx, "k", []byte("v"), []byte{0xff, 0x01}); return err }, "malformed context"},
		{"unsorted context", func() error {
			c.Put(ctx, "k", []byte("v"), nil)
			res, _ := c.Get(ctx, "k", client.WithR(3))
			// Two encoded contexts one after the other decode as one clock
			// with every entry twice: not a valid clock.
			bad := append(append([]byte{}, res.Context...), res.Context...)
			err := c.Put(ctx, "k", []byte("v"), bad)
			return err
		}, "malformed context"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if client.KindOf(err) != client.Invalid || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want invalid argument mentioning %q", err, tt.want)
			}
		})
	}
	// A value at the limit is fine.
	if err := c.Put(ctx, "k", make([]byte, 10*1024), nil); err != nil {
		t.Fatalf("value at the limit: %v", err)
	}
}

func TestLinearizableNeedsOverlap(t *testing.T) {
	cfg := kvnode.DefaultConfig()
	cfg.ID, cfg.Listen, cfg.DataDir = "n1", "127.0.0.1:1", t.TempDir()
	cfg.Peers = []kvnode.Peer{{ID: "n1", Addr: "127.0.0.1:1"}, {ID: "n2", Addr: "127.0.0.1:2"}, {ID: "n3", Addr: "127.0.0.1:3"}}
	cfg.Mode, cfg.W, cfg.R = version.Linearizable, 1, 2
	if _, err := kvnode.New(cfg); err == nil || !strings.Contains(err.Error(), "W + R > N") {
		t.Fatalf("New with N3 W1 R2 linearizable: err = %v, want a W + R > N refusal", err)
	}
}

func TestRestartKeepsAcknowledgedWrites(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			tc := startCluster(t, 3, func(c *kvnode.Config) { c.Mode = mode; c.Fsync = true })
			ctx := ctxT(t)
			const keys = 200
			for i := range keys {
				if err := tc.clients[i%3].Put(ctx, fmt.Sprintf("k%d", i), []byte(fmt.Sprint(i)), nil); err != nil {
					t.Fatal(err)
				}
			}
			for i := range tc.nodes {
				tc.stop(i)
			}
			for i := range tc.nodes {
				tc.start(i)
			}
			for i := range keys {
				var res client.Result
				eventually(t, "read after restart", func() (err error) {
					res, err = tc.clients[(i+1)%3].Get(ctx, fmt.Sprintf("k%d", i), client.WithR(3))
					return err
				})
				if !slices.Equal(strs(res.Values), []string{fmt.Sprint(i)}) {
					t.Fatalf("k%d after restart = %v", i, strs(res.Values))
				}
			}
		})
	}
}
