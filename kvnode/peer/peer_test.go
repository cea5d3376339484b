package peer

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

func serve(t *testing.T) (addr string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return l.Addr().String(), srv.Stop
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if f() {
			return
		}
	}
	t.Fatalf("not within 10s: %s", what)
}

// Liveness follows the connection: up once the peer listens, down once it
// stops, and back at a new address after a Sync that moved it.
func TestLiveness(t *testing.T) {
	ctx := context.Background()
	s := New(Config{Self: "a", Listen: "127.0.0.1:0", DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}})
	defer s.Close()
	addr, stop := serve(t)
	if err := s.Sync(map[string]string{"a": "127.0.0.1:1", "b": addr, "c": ""}); err != nil {
		t.Fatal(err)
	}
	if s.Get("a") != nil || s.Get("c") != nil {
		t.Fatal("dialled itself or a peer without an address")
	}
	if s.Live(ctx, "nobody") || s.State("nobody") != kvpb.StateDead {
		t.Fatal("an unknown peer is live")
	}
	eventually(t, "b live", func() bool { return s.Live(ctx, "b") })
	if st := s.State("b"); st != kvpb.StateAlive || !s.Ready("b") {
		t.Fatalf("b is %s, ready %v", st, s.Ready("b"))
	}
	stop()
	eventually(t, "b down", func() bool { return !s.Live(ctx, "b") && s.State("b") != kvpb.StateAlive })

	moved, _ := serve(t)
	if err := s.Sync(map[string]string{"b": moved}); err != nil {
		t.Fatal(err)
	}
	if got := s.Get("b").Addr; got != moved {
		t.Fatalf("b at %s after the move to %s", got, moved)
	}
	eventually(t, "b live at its new address", func() bool { return s.Live(ctx, "b") })
}
