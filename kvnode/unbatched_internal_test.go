package kvnode

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/peer"
)

// oldReplica is a peer from before WriteBatch: it serves Write only.
type oldReplica struct {
	kvpb.UnimplementedReplicaServer
	mu   sync.Mutex
	keys []string
}

func (o *oldReplica) Write(_ context.Context, req *kvpb.ReplicaWriteRequest) (*kvpb.ReplicaWriteResponse, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.keys = append(o.keys, string(req.GetKey()))
	return &kvpb.ReplicaWriteResponse{}, nil
}

// A coordinator whose peer answers WriteBatch with Unimplemented sends it
// each write alone, the first one included: nothing of a refused batch was
// applied.
func TestWritesToAPeerWithoutBatches(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	old := &oldReplica{}
	srv := grpc.NewServer()
	kvpb.RegisterReplicaServer(srv, old)
	go srv.Serve(l)
	defer srv.Stop()

	cfg := DefaultConfig()
	cfg.ID = "n1"
	peers := peer.New(peer.Config{Self: "n1", Listen: "127.0.0.1:0", DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}})
	defer peers.Close()
	if err := peers.Sync(map[string]string{"old": l.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	var bg sync.WaitGroup
	stop, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); bg.Wait() }()
	co := &coordinator{cfg: cfg, met: newMetrics(), peers: peers, bg: &bg, stop: stop}
	ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	for _, key := range []string{"a", "b"} {
		vs := []*kvpb.Version{{Value: []byte("v"), Timestamp: 1, Writer: "n1"}}
		if r := co.writeReplica(ctx, "old", 0, []byte(key), vs, ""); r.err != nil {
			t.Fatalf("write %s to a peer without WriteBatch: %v", key, r.err)
		}
	}
	old.mu.Lock()
	defer old.mu.Unlock()
	if len(old.keys) != 2 || old.keys[0] != "a" || old.keys[1] != "b" {
		t.Fatalf("the old peer got %v, want [a b]", old.keys)
	}
}
