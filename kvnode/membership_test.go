package kvnode_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/membership"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// gossipConfig is a node of a gossip cluster on loopback: only seeds, no
// static peers.
func gossipConfig(t testing.TB, dir, id, grpcAddr, gossipAddr string, seeds []string) kvnode.Config {
	cfg := kvnode.DefaultConfig()
	cfg.ID, cfg.Listen, cfg.DataDir = id, grpcAddr, fmt.Sprintf("%s/%s", dir, id)
	g := membership.DefaultLocalConfig()
	g.BindAddr, g.Seeds = gossipAddr, seeds
	cfg.Gossip = &g
	cfg.AdminToken = testToken
	cfg.Logger = testLogger()
	return cfg
}

func testLogger() *slog.Logger {
	if os.Getenv("KVNODE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startGossipCluster starts size nodes that know each other only through
// gossip seeds; spares more are configured but not started (see add).
func startGossipCluster(t testing.TB, size, spares int, mutate func(*kvnode.Config)) *testCluster {
	t.Helper()
	total := size + spares
	addrs := freePorts(t, 3*total)
	grpcAddrs, gossipAddrs, peerAddrs := addrs[:total], addrs[total:2*total], addrs[2*total:]
	tc := &testCluster{t: t}
	dir := t.TempDir()
	for i := range total {
		cfg := gossipConfig(t, dir, fmt.Sprintf("n%d", i+1), grpcAddrs[i], gossipAddrs[i], gossipAddrs[:size])
		cfg.PeerListen = peerAddrs[i]
		if mutate != nil {
			mutate(&cfg)
		}
		tc.cfgs = append(tc.cfgs, cfg)
		tc.nodes = append(tc.nodes, nil)
		c, err := client.Dial(grpcAddrs[i], client.Options{Timeout: 5 * time.Second, AdminToken: testToken})
		if err != nil {
			t.Fatal(err)
		}
		tc.clients = append(tc.clients, c)
	}
	t.Cleanup(func() {
		for i := range tc.nodes {
			tc.stop(i)
			tc.clients[i].Close()
		}
	})
	for i := range size {
		tc.start(i)
	}
	return tc
}

// kill stops node i as SIGKILL would look to its peers.
func (tc *testCluster) kill(i int) {
	if tc.nodes[i] != nil {
		kvnode.Crash(tc.nodes[i])
		tc.nodes[i] = nil
	}
}

// view returns how node i sees each member: "state/ring status".
func (tc *testCluster) view(i int) (map[string]string, error) {
	st, err := tc.clients[i].Status(context.Background())
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range st.GetMembers() {
		out[m.GetId()] = m.GetState() + "/" + m.GetRingStatus()
	}
	return out, nil
}

// waitView waits until every running node among on sees exactly want.
func (tc *testCluster) waitView(what string, on []int, want map[string]string) {
	tc.t.Helper()
	eventually(tc.t, what, func() error {
		for _, i := range on {
			got, err := tc.view(i)
			if err != nil {
				return err
			}
			for id, w := range want {
				if got[id] != w {
					return fmt.Errorf("%s sees %s as %s, want %s (all: %v)", tc.cfgs[i].ID, id, got[id], w, got)
				}
			}
		}
		return nil
	})
}

func TestGossipMembership(t *testing.T) {
	tc := startGossipCluster(t, 3, 0, nil)
	all := []int{0, 1, 2}
	tc.waitView("three nodes started with only --join see each other", all,
		map[string]string{"n1": "alive/member", "n2": "alive/member", "n3": "alive/member"})

	ctx := ctxT(t)
	if err := tc.clients[0].Put(ctx, "k", []byte("v"), nil); err != nil {
		t.Fatalf("put on a gossip-formed ring: %v", err)
	}

	tc.kill(2)
	// Dead, but still in the ring: a node that is merely down stays.
	tc.waitView("a killed node is seen dead", []int{0, 1},
		map[string]string{"n1": "alive/member", "n2": "alive/member", "n3": "dead/member"})
	// The coordinator does not count on the dead replica: W=2 of the two
	// alive ones succeeds, W=3 is refused without being sent.
	if err := tc.clients[0].Put(ctx, "k2", []byte("v"), nil); err != nil {
		t.Fatalf("W=2 put with one node dead: %v", err)
	}
	if err := tc.clients[0].Put(ctx, "k3", []byte("v"), nil, client.WithW(3)); client.KindOf(err) != client.Unavailable {
		t.Fatalf("W=3 put with one node dead: err = %v, want unavailable", err)
	}

	tc.start(2)
	tc.waitView("a restarted node is alive again", all,
		map[string]string{"n1": "alive/member", "n2": "alive/member", "n3": "alive/member"})
}

// replicaGet reads node i's own copy of key through the replica API: no
// coordinator, no read repair.
func (tc *testCluster) replicaGet(i int, key string) ([]string, error) {
	conn, err := grpc.NewClient(tc.cfgs[i].PeerListen, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := kvpb.NewReplicaClient(conn).Read(ctx, &kvpb.ReplicaReadRequest{Key: []byte(key)})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range resp.GetSet().GetVersions() {
		if !v.GetTombstone() {
			out = append(out, string(v.GetValue()))
		}
	}
	slices.Sort(out)
	return out, nil
}

// homes returns a key's home replicas as node i sees the ring.
func (tc *testCluster) homes(i int, key string) []string {
	tc.t.Helper()
	r, err := tc.clients[i].Ring(context.Background(), key)
	if err != nil {
		tc.t.Fatal(err)
	}
	return r.GetPreferenceList()
}

func TestHintedHandoff(t *testing.T) {
	for _, sloppy := range []bool{false, true} {
		t.Run(fmt.Sprintf("sloppy=%v", sloppy), func(t *testing.T) {
			tc := startCluster(t, 4, func(c *kvnode.Config) {
				c.Mode, c.N, c.W, c.R = version.VClock, 3, 3, 2
				c.Sloppy = sloppy
				c.AntiEntropyInterval = 0 // only handoff may bring the data back
				c.HandoffInterval = 100 * time.Millisecond
			})
			ctx := ctxT(t)
			// Keys with n4 among their home replicas.
			var keys []string
			for i := 0; len(keys) < 40; i++ {
				k := fmt.Sprintf("key%d", i)
				if slices.Contains(tc.homes(0, k), "n4") {
					keys = append(keys, k)
				}
			}
			tc.stop(3)
			for i, k := range keys {
				err := tc.clients[i%3].Put(ctx, k, []byte("v-"+k), nil)
				switch {
				case sloppy && err != nil:
					t.Fatalf("sloppy W=N put of %s with a home replica down: %v", k, err)
				case !sloppy && client.KindOf(err) != client.Unavailable:
					t.Fatalf("strict W=N put of %s with a home replica down: err = %v, want unavailable", k, err)
				}
			}
			if !sloppy {
				return
			}
			var hints uint64
			for i := range 3 {
				st, err := tc.clients[i].Status(ctx)
				if err != nil {
					t.Fatal(err)
				}
				hints += st.GetHints()
			}
			if hints != uint64(len(keys)) {
				t.Fatalf("%d hints held for n4, want one per key (%d)", hints, len(keys))
			}
			tc.start(3)
			eventually(t, "n4 gets the hinted writes without any read", func() error {
				for _, k := range keys {
					got, err := tc.replicaGet(3, k)
					if err != nil {
						return err
					}
					if !slices.Equal(got, []string{"v-" + k}) {
						return fmt.Errorf("n4 holds %s = %v", k, got)
					}
				}
				for i := range 3 {
					if st, err := tc.clients[i].Status(ctx); err != nil || st.GetHints() != 0 {
						return fmt.Errorf("n%d still holds %d hints (%v)", i+1, st.GetHints(), err)
					}
				}
				return nil
			})
		})
	}
}

func TestAntiEntropyRestoresWipedNode(t *testing.T) {
	tc := startCluster(t, 3, func(c *kvnode.Config) {
		c.Mode = version.VClock
		c.AntiEntropyInterval = 200 * time.Millisecond
		c.MerkleDepth = 6
	})
	ctx := ctxT(t)
	const keys = 300
	for i := range keys {
		if err := tc.clients[i%3].Put(ctx, fmt.Sprintf("k%d", i), []byte(fmt.Sprint(i)), nil, client.WithW(3)); err != nil {
			t.Fatal(err)
		}
	}
	tc.stop(2)
	if err := os.RemoveAll(tc.cfgs[2].DataDir); err != nil {
		t.Fatal(err)
	}
	tc.start(2)
	eventually(t, "the wiped node gets every key back without any read", func() error {
		st, err := tc.clients[2].Status(ctx)
		if err != nil {
			return err
		}
		if st.GetKeys() != keys {
			return fmt.Errorf("n3 holds %d of %d keys", st.GetKeys(), keys)
		}
		return nil
	})
	for i := range keys {
		got, err := tc.replicaGet(2, fmt.Sprintf("k%d", i))
		if err != nil || !slices.Equal(got, []string{fmt.Sprint(i)}) {
			t.Fatalf("n3's k%d = %v, %v", i, got, err)
		}
	}
}

func TestRingChangeNeedsGossip(t *testing.T) {
	tc := startCluster(t, 3, nil)
	err := tc.clients[0].Decommission(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "static membership") {
		t.Fatalf("decommission on a static cluster: err = %v, want a static-membership refusal", err)
	}
}

// With sloppy quorums W + R > N no longer makes reads see writes: a write
// acknowledged by stand-ins is invisible to a read of the home replicas
// until the hints are delivered.
func TestSloppyQuorumsDoNotOverlap(t *testing.T) {
	tc := startCluster(t, 5, func(c *kvnode.Config) {
		c.Mode, c.N, c.W, c.R = version.LWW, 3, 2, 2
		c.Sloppy = true
		c.AntiEntropyInterval = 0
		c.ReadRepair = kvnode.ReadRepairOff
	})
	ctx := ctxT(t)
	index := map[string]int{}
	for i, c := range tc.cfgs {
		index[c.ID] = i
	}
	const key = "k"
	homes := tc.homes(0, key)
	var others []int
	for i, c := range tc.cfgs {
		if !slices.Contains(homes, c.ID) {
			others = append(others, i)
		}
	}
	if err := tc.clients[others[0]].Put(ctx, key, []byte("old"), nil, client.WithW(3)); err != nil {
		t.Fatal(err)
	}
	// Two home replicas down: the write goes to the third and a stand-in.
	a, b, c := index[homes[0]], index[homes[1]], index[homes[2]]
	tc.stop(a)
	tc.stop(b)
	if err := tc.clients[c].Put(ctx, key, []byte("new"), nil); err != nil {
		t.Fatalf("sloppy W=2 put with two home replicas down: %v", err)
	}
	// The home replicas that saw it, and every stand-in, go down; the two
	// that missed it come back. Their read quorum misses the write.
	tc.stop(c)
	tc.stop(others[0])
	tc.stop(others[1])
	tc.start(a)
	tc.start(b)
	var res client.Result
	eventually(t, "read of the returning home replicas", func() (err error) {
		res, err = tc.clients[a].Get(ctx, key)
		return err
	})
	if got := strs(res.Values); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("read %v; the stand-ins were down, so it should miss the acknowledged write", got)
	}
}
