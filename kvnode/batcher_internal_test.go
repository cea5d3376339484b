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
	"google.golang.org/protobuf/proto"

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
	b := &batcher{send: g.send, stop: context.Background(), bg: &bg, maxBytes: 1 << 20, timeout: 10 * time.Second}
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
	b := &batcher{send: g.send, stop: context.Background(), bg: &bg, maxBytes: 1 << 20, timeout: 10 * time.Second}
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

// Writes queued beyond a call's byte budget wait for the next call, so no
// call outgrows the peer's message limit; a write larger than the budget
// still goes, alone.
func TestBatcherSplitsByBytes(t *testing.T) {
	var bg sync.WaitGroup
	g := &gate{release: make(chan error, 16)}
	req := func(key string, n int) *kvpb.ReplicaWriteRequest {
		return &kvpb.ReplicaWriteRequest{Key: []byte(key), Set: &kvpb.VersionSet{Versions: []*kvpb.Version{{Value: make([]byte, n)}}}}
	}
	one := proto.Size(req("k0", 100))
	b := &batcher{send: g.send, stop: context.Background(), bg: &bg, maxBytes: 3 * one, timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 9)
	write := func(r *kvpb.ReplicaWriteRequest) {
		_, err := b.write(ctx, r)
		errs <- err
	}
	go write(req("first", 100))
	waitFor(t, "the first call", func() bool { return len(g.sent()) == 1 })
	for i := range 7 {
		go write(req(fmt.Sprint("k", i), 100))
	}
	waitFor(t, "seven writes queued", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.queue) == 7 })
	go write(req("huge", 10*one))
	waitFor(t, "the huge write queued", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.queue) == 8 })
	for range 5 {
		g.release <- nil
	}
	for range 9 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	bg.Wait()
	sizes := []int{}
	for _, c := range g.sent() {
		sizes = append(sizes, len(c))
	}
	// first; then 3, 3, 1 of the seven; then the huge one alone.
	if want := []int{1, 3, 3, 1, 1}; fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Fatalf("calls carried %v writes, want %v", sizes, want)
	}
}
