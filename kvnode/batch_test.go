package kvnode_test

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// TestWriteBatchRefusedWhole: a replica batch is peer input. One that is
// too long or holds a bad key is refused before any of it is applied.
func TestWriteBatchRefusedWhole(t *testing.T) {
	tc := startCluster(t, 3, nil)
	conn, err := grpc.NewClient(tc.cfgs[0].PeerListen, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rc := kvpb.NewReplicaClient(conn)
	ctx := ctxT(t)
	set := &kvpb.VersionSet{Versions: []*kvpb.Version{{Value: []byte("forged"), Timestamp: 1 << 62, Writer: "x"}}}
	good := &kvpb.ReplicaWriteRequest{Key: []byte("batched"), Set: set}
	long := &kvpb.ReplicaWriteBatch{}
	for range 513 {
		long.Writes = append(long.Writes, good)
	}
	for name, b := range map[string]*kvpb.ReplicaWriteBatch{
		"an empty key":    {Writes: []*kvpb.ReplicaWriteRequest{good, {Key: nil, Set: set}}},
		"an oversize key": {Writes: []*kvpb.ReplicaWriteRequest{good, {Key: make([]byte, 4096), Set: set}}},
		"513 writes":      long,
	} {
		if _, err := rc.WriteBatch(ctx, b); status.Code(err) != codes.InvalidArgument {
			t.Errorf("a batch with %s: %v, want InvalidArgument", name, err)
		}
	}
	// Nothing of the refused batches reached n1's store: a read of all
	// three replicas finds no value.
	res, err := tc.clients[0].Get(ctx, "batched", client.WithR(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Values) != 0 {
		t.Fatalf("a refused batch was applied: %q", res.Values)
	}
	if _, err := rc.WriteBatch(ctx, &kvpb.ReplicaWriteBatch{Writes: []*kvpb.ReplicaWriteRequest{good}}); err != nil {
		t.Fatalf("a valid batch: %v", err)
	}
	if res, err = tc.clients[0].Get(ctx, "batched", client.WithR(3)); err != nil || len(res.Values) != 1 || string(res.Values[0]) != "forged" {
		t.Fatalf("after a valid batch to n1: %q, %v; want its value", res.Values, err)
	}
}
