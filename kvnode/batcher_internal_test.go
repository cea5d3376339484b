package kvnode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// gate is a send that records each batch and answers it only when told.
type gate struct {
	mu      sync.Mutex
	batches [][]string
	release chan error
}

func (g *gate) send(ctx context.Context, b *kvpb.ReplicaWriteBatch) (metadata.MD, error) {
	var keys []string
	for _, w := range b.GetWrites() {
		keys = append(keys, string(w.GetKey()))
	}
	g.mu.Lock()
	g.batches = append(g.batches, keys)
	g.mu.Unlock()
	select {
	case err := <-g.release:
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *gate) sent() [][]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]string(nil), g.batches...)
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if f() {
			return
		}
	}
	t.Fatalf("not within 5s: %s", what)
}

// A lone write goes at once; the writes queued while it is in flight go
// together in the next call, and each caller gets its own call's answer.
func TestBatcherCoalesces(t *testing.T) {
	var bg sync.WaitGroup
	g := &gate{release: make(chan error)}
	b := &batcher{send: g.send, stop: context.Background(), bg: &bg}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 11)
	write := func(key string) {
		_, err := b.write(ctx, &kvpb.ReplicaWriteRequest{Key: []byte(key)})
		errs <- err
	}
	go write("first")
	waitFor(t, "the first call", func() bool { return len(g.sent()) == 1 })
	for i := range 10 {
		go write(fmt.Sprint("k", i))
	}
	waitFor(t, "ten writes queued", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.queue) == 10 })
	g.release <- nil
	if err := <-errs; err != nil {
		t.Fatalf("first write: %v", err)
	}
	waitFor(t, "the second call", func() bool { return len(g.sent()) == 2 })
	if got := g.sent()[1]; len(got) != 10 {
		t.Fatalf("second call carried %v, want the ten queued writes", got)
	}
	failure := status.Error(codes.Unavailable, "replica down")
	g.release <- failure
	for range 10 {
		if err := <-errs; !errors.Is(err, failure) {
			t.Errorf("queued write: %v, want the batch's error", err)
		}
	}
	bg.Wait() // the sender stops once the queue is empty
	if b.sending || len(b.queue) != 0 {
		t.Fatal("sender still marked running after the queue emptied")
	}
}

// A caller whose deadline passes while its write is queued is answered at
// its deadline, and its write is then not sent at all.
func TestBatcherDropsExpired(t *testing.T) {
	var bg sync.WaitGroup
	g := &gate{release: make(chan error)}
	b := &batcher{send: g.send, stop: context.Background(), bg: &bg}
	long, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := make(chan error, 1)
	go func() {
		_, err := b.write(long, &kvpb.ReplicaWriteRequest{Key: []byte("first")})
		first <- err
	}()
	waitFor(t, "the first call", func() bool { return len(g.sent()) == 1 })
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := b.write(short, &kvpb.ReplicaWriteRequest{Key: []byte("late")}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("queued write past its deadline: %v", err)
	}
	g.release <- nil
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	bg.Wait()
	if n := len(g.sent()); n != 1 {
		t.Fatalf("%d calls, want only the first: the expired write was sent", n)
	}
}
