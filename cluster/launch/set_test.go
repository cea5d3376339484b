package launch

import (
	"errors"
	"sync"
	"testing"

	"github.com/quorumlab/quorumlab/cluster"
)

type member string

func (m member) Info() cluster.Node { return cluster.Node{ID: string(m)} }

func TestSet(t *testing.T) {
	var s Set[member]
	for _, id := range []string{"n1", "n2"} {
		if err := s.Add(member(id)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Get("n2"); err != nil || n != "n2" {
		t.Fatalf("Get(n2) = %q, %v", n, err)
	}
	if _, err := s.Get("n3"); err == nil {
		t.Fatal("Get(n3) of an unknown node succeeded")
	}
	if got := s.Nodes(); len(got) != 2 || got[0].ID != "n1" || got[1].ID != "n2" {
		t.Fatalf("Nodes = %+v, want n1, n2", got)
	}

	calls := 0
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.Close(func() error {
				calls++
				if !s.Closing() {
					t.Error("not closing during teardown")
				}
				return errors.New("teardown failed")
			})
		})
	}
	wg.Wait()
	if calls != 1 {
		t.Errorf("teardown ran %d times, want once", calls)
	}
	for _, err := range errs {
		if err == nil || err.Error() != "teardown failed" {
			t.Errorf("Close = %v, want the first teardown's error", err)
		}
	}
	if err := s.Add(member("n3")); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close = %v, want ErrClosed", err)
	}
	if len(s.All()) != 2 {
		t.Errorf("a closed set grew to %d nodes", len(s.All()))
	}
}
