package workload

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/target"
)

// stubKV is a kvnode stand-in that does nothing: every request succeeds at
// once, after hold (if set) returns.
type stubKV struct {
	kvpb.UnimplementedKVServer
	hold func()
}

func (s *stubKV) wait() {
	if s.hold != nil {
		s.hold()
	}
}

func (s *stubKV) Get(context.Context, *kvpb.GetRequest) (*kvpb.GetResponse, error) {
	s.wait()
	return &kvpb.GetResponse{}, nil
}

func (s *stubKV) Put(context.Context, *kvpb.PutRequest) (*kvpb.PutResponse, error) {
	s.wait()
	return &kvpb.PutResponse{}, nil
}

// startStub serves a stubKV on loopback and returns conns targets, each
// with its own connection, as the harness has one per node.
func startStub(tb testing.TB, hold func(), conns int) []Target {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := grpc.NewServer()
	kvpb.RegisterKVServer(srv, &stubKV{hold: hold})
	go func() { _ = srv.Serve(lis) }()
	tb.Cleanup(srv.Stop)
	var targets []Target
	for i := range conns {
		c, err := target.Dial(target.KVNode, lis.Addr().String(), target.Options{Timeout: 5 * time.Second})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Close() })
		targets = append(targets, Target{Node: "n" + string(rune('1'+i)), Client: c})
	}
	return targets
}

// memHistory records into memory; read returns what was recorded.
func memHistory(tb testing.TB) (rec *history.Recorder, read func() []history.Op) {
	var buf bytes.Buffer
	w := history.NewWriter(&buf)
	rec = history.NewRecorder(w, history.NewClock())
	return rec, func() []history.Op {
		if err := w.Close(); err != nil {
			tb.Fatal(err)
		}
		ops, _, err := history.Read(&buf)
		if err != nil {
			tb.Fatal(err)
		}
		return ops
	}
}
