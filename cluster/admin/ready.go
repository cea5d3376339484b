package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/quorumlab/quorumlab/internal/ctxtime"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// WaitFormed waits until each of nodes sees every member as alive and none
// joining or leaving the ring, so that the first operations do not fail
// only because peer connections are still forming. It returns the last
// reason it kept waiting once ctx is done.
func (a *Admin) WaitFormed(ctx context.Context, nodes []string) error {
	for {
		last := a.unformed(ctx, nodes)
		if last == nil {
			return nil
		}
		if !ctxtime.Sleep(ctx, 100*time.Millisecond) {
			return last
		}
	}
}

// unformed is why the nodes have not formed a cluster yet, or nil.
func (a *Admin) unformed(ctx context.Context, nodes []string) error {
	var last error
	for _, id := range nodes {
		var st *kvpb.StatusResponse
		err := a.Call(ctx, id, func(ctx context.Context, c *client.Client) error {
			var err error
			st, err = c.Status(ctx)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		for _, m := range st.GetMembers() {
			if m.GetState() != kvpb.StateAlive {
				last = fmt.Errorf("%s sees %s as %s", id, m.GetId(), m.GetState())
			}
			if rs := m.GetRingStatus(); rs == kvpb.StatusJoining || rs == kvpb.StatusLeaving {
				last = fmt.Errorf("%s sees %s %s the ring", id, m.GetId(), rs)
			}
		}
	}
	return last
}

// WaitLeft waits until every node of nodes that answers sees id out of
// the ring; a peer partitioned off learns it once the partition heals,
// hence the long bound.
func (a *Admin) WaitLeft(ctx context.Context, id string, nodes func() []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		still, asked := "", 0
		for _, node := range nodes() {
			err := a.Call(ctx, node, func(ctx context.Context, cl *client.Client) error {
				st, err := cl.Status(ctx)
				if err != nil {
					return err
				}
				for _, m := range st.GetMembers() {
					switch s := m.GetRingStatus(); {
					case m.GetId() != id:
					case s == kvpb.StatusMember, s == kvpb.StatusJoining, s == kvpb.StatusLeaving:
						still = node + " sees it " + s
					}
				}
				return nil
			})
			if err == nil {
				asked++
			}
		}
		if asked > 0 && still == "" {
			return nil
		}
		if !ctxtime.Sleep(ctx, 200*time.Millisecond) {
			if still == "" {
				still = "no peer answered"
			}
			return fmt.Errorf("%s decommissioned, but its peers have not seen it leave: %s", id, still)
		}
	}
}
