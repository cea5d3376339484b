package kvnode_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

const testToken = "test-token"

// testCluster is a cluster of real nodes serving gRPC on loopback inside the
// test process.
type testCluster struct {
	t       testing.TB
	cfgs    []kvnode.Config
	nodes   []*kvnode.Node
	clients []*client.Client
}

func freePorts(t testing.TB, n int) []string {
	t.Helper()
	var addrs []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return addrs
}

func startCluster(t testing.TB, size int, mutate func(*kvnode.Config)) *testCluster {
	t.Helper()
	return startClusterWith(t, size, mutate, client.Options{Timeout: 5 * time.Second, AdminToken: testToken})
}

// startClusterWith starts size nodes with static membership, each on its
// own client and peer port, and a client of each with opts.
func startClusterWith(t testing.TB, size int, mutate func(*kvnode.Config), opts client.Options) *testCluster {
	t.Helper()
	all := freePorts(t, 2*size)
	addrs, peerAddrs := all[:size], all[size:]
	var peers []kvnode.Peer
	for i, a := range peerAddrs {
		peers = append(peers, kvnode.Peer{ID: fmt.Sprintf("n%d", i+1), Addr: a, Weight: 1})
	}
	tc := &testCluster{t: t}
	dir := t.TempDir()
	for i := range size {
		cfg := kvnode.DefaultConfig()
		cfg.ID = peers[i].ID
		cfg.Listen, cfg.PeerListen = addrs[i], peerAddrs[i]
		cfg.DataDir = fmt.Sprintf("%s/%s", dir, cfg.ID)
		cfg.Peers = peers
		cfg.AdminToken = testToken
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if mutate != nil {
			mutate(&cfg)
		}
		tc.cfgs = append(tc.cfgs, cfg)
		tc.nodes = append(tc.nodes, nil)
		c, err := client.Dial(addrs[i], opts)
		if err != nil {
			t.Fatal(err)
		}
		tc.clients = append(tc.clients, c)
	}
	for i := range size {
		tc.start(i)
	}
	tc.waitMesh()
	t.Cleanup(func() {
		for i := range tc.nodes {
			tc.stop(i)
			tc.clients[i].Close()
		}
	})
	return tc
}

func (tc *testCluster) start(i int) {
	tc.t.Helper()
	n, err := kvnode.New(tc.cfgs[i])
	if err != nil {
		tc.t.Fatalf("start %s: %v", tc.cfgs[i].ID, err)
	}
	if err := n.Serve(); err != nil {
		tc.t.Fatalf("serve %s: %v", tc.cfgs[i].ID, err)
	}
	tc.nodes[i] = n
}

// waitMesh waits until every running node sees every other as alive.
func (tc *testCluster) waitMesh() {
	tc.t.Helper()
	eventually(tc.t, "cluster mesh", func() error {
		for i, c := range tc.clients {
			if tc.nodes[i] == nil {
				continue
			}
			st, err := c.Status(context.Background())
			if err != nil {
				return err
			}
			for j, m := range st.GetMembers() {
				if tc.nodes[j] != nil && m.GetState() != kvpb.StateAlive {
					return fmt.Errorf("%s sees %s as %s", st.GetId(), m.GetId(), m.GetState())
				}
			}
		}
		return nil
	})
}

func (tc *testCluster) stop(i int) {
	if tc.nodes[i] != nil {
		tc.nodes[i].Close()
		tc.nodes[i] = nil
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually retries f until it succeeds or 10 s pass: peers reconnect
// asynchronously after a restart.
func eventually(t testing.TB, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
