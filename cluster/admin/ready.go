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
			if m.GetState() != "alive" {
				last = fmt.Errorf("%s sees %s as %s", id, m.GetId(), m.GetState())
			}
			if rs := m.GetRingStatus(); rs == "joining" || rs == "leaving" {
				last = fmt.Errorf("%s sees %s %s the ring", id, m.GetId(), rs)
			}
		}
	}
	return last
}
