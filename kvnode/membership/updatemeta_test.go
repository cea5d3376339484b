package membership

import (
	"net"
	"sync"
	"testing"
	"time"
)

type metaDelegate struct{}

func (metaDelegate) Meta() []byte            { return []byte("m") }
func (metaDelegate) LocalState() []byte      { return nil }
func (metaDelegate) MergeRemoteState([]byte) {}
func (metaDelegate) NotifyMember(Member)     {}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// A node's status change and its ring loop both re-broadcast its metadata,
// at the same time; run under -race (as CI does for this package), this
// fails if the calls are not serialized.
func TestConcurrentUpdateMeta(t *testing.T) {
	var ms []*Membership
	var seeds []string
	for _, name := range []string{"a", "b"} {
		cfg := DefaultLocalConfig()
		cfg.Name, cfg.BindAddr, cfg.Seeds = name, freeAddr(t), seeds
		m, err := Start(cfg, metaDelegate{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close(0) })
		ms = append(ms, m)
		seeds = []string{cfg.BindAddr}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := ms[1].UpdateMeta(time.Second); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
