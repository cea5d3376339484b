package kvnode

import (
	"context"
	"slices"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/merkle"
	"github.com/quorumlab/quorumlab/kvnode/ring"
)

// Anti-entropy: every interval, each node compares a Merkle tree of the
// ranges it shares with each peer (the token ranges both replicate, in the
// current ring) against the peer's tree of the same ranges, and pulls the
// entries of the leaves that differ. Each node pulls what it lacks, so every
// pair is compared from both sides and nothing needs pushing. The tree code
// is pure (package merkle); this file is the I/O around it.

// sharedRanges returns the token ranges a and b both replicate in r.
func sharedRanges(r *ring.Ring, n int, a, b string) []ring.Range {
	return ring.Segments([]*ring.Ring{r}, n, func(prefs [][]string) bool {
		return slices.Contains(prefs[0], a) && slices.Contains(prefs[0], b)
	})
}

// antiEntropy runs one round against every reachable peer.
func (u *upkeep) antiEntropy(ctx context.Context) {
	v := u.ring.View()
	switch v.Status(u.cfg.ID) {
	case kvpb.StatusMember, kvpb.StatusLeaving:
	default:
		return // a joining node pulls its ranges itself; others own nothing
	}
	for _, peer := range v.Current.Nodes() {
		if ctx.Err() != nil {
			return
		}
		if peer.ID == u.cfg.ID || !u.coord.live(ctx, peer.ID) {
			continue
		}
		ranges := sharedRanges(v.Current, u.cfg.N, u.cfg.ID, peer.ID)
		if len(ranges) == 0 {
			continue
		}
		repaired, err := u.syncWith(ctx, peer.ID, ranges)
		switch {
		case err != nil:
			u.met.aeRounds.WithLabelValues("error").Inc()
			u.log.Debug("anti-entropy", "peer", peer.ID, "err", err)
		case repaired < 0:
			u.met.aeRounds.WithLabelValues("in-sync").Inc()
		default:
			u.met.aeRounds.WithLabelValues("synced").Inc()
			if repaired > 0 {
				u.log.Info("anti-entropy: repaired keys", "peer", peer.ID, "keys", repaired)
			}
		}
	}
}

// syncWith compares trees over ranges with a peer and pulls the entries of
// differing leaves. It returns how many local keys changed, or -1 if the
// trees matched.
func (u *upkeep) syncWith(ctx context.Context, id string, ranges []ring.Range) (int, error) {
	p := u.peers.Get(id)
	if p == nil {
		return 0, nil
	}
	depth := u.cfg.MerkleDepth
	local, _, err := u.mover.buildTree(ranges, depth)
	if err != nil {
		return 0, err
	}
	leaves := local.Leaves()
	root := merkle.Root(leaves)
	tctx, cancel := context.WithTimeout(ctx, 10*u.cfg.RequestTimeout)
	resp, err := p.Replica.Tree(tctx, &kvpb.TreeRequest{Ranges: toPBRanges(ranges), Depth: uint32(depth), Root: root})
	cancel()
	if err != nil {
		return 0, err
	}
	if resp.GetRoot() == root {
		return -1, nil
	}
	diff, err := merkle.Diff(leaves, resp.GetLeaves())
	if err != nil {
		return 0, err
	}
	if len(diff) == 0 {
		return 0, nil
	}
	_, changed, err := u.mover.pull(ctx, id, ranges, depth, diff)
	u.met.aeRepaired.Add(float64(changed))
	return changed, err
}
