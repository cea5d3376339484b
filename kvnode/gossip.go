package kvnode

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/membership"
	"github.com/quorumlab/quorumlab/kvnode/placement"
)

// The ring state travels two ways: each node's own entry is its gossip
// metadata (so a change spreads with memberlist's alive messages within a
// few gossip rounds), and the whole state goes with every push/pull (so a
// node that was away, or new, learns the entries of nodes that are down).

// startGossip starts memberlist and joins the seeds.
func (n *Node) startGossip() error {
	gc := *n.cfg.Gossip
	gc.Name = n.cfg.ID
	gc.Logger = n.log
	gc.SecretKey = n.cfg.ClusterKey
	m, err := membership.Start(gc, gossipDelegate{n})
	if err != nil {
		return err
	}
	n.gossip = m
	n.ops.gossip = m
	n.peers.UseGossip(m)
	return nil
}

// gossipDelegate plugs the ring state into gossip. memberlist calls it with
// its locks held: nothing here blocks or calls into memberlist; storage
// writes and metadata broadcasts happen in ringLoop.
type gossipDelegate struct{ n *Node }

func (d gossipDelegate) Meta() []byte {
	// Outside the ring, the entry has no status: peers still learn the address.
	return placement.EncodeMember(d.n.ring.ownEntry())
}

func (d gossipDelegate) LocalState() []byte {
	b, _ := d.n.ring.encoded()
	return b
}

func (d gossipDelegate) MergeRemoteState(buf []byte) {
	var rs kvpb.RingState
	if err := proto.Unmarshal(buf, &rs); err != nil {
		d.n.log.Warn("gossip: bad ring state from a peer", "err", err)
		return
	}
	d.n.ring.merge(rs.GetMembers())
}

func (d gossipDelegate) NotifyMember(m membership.Member) {
	n := d.n
	var e kvpb.RingMember
	if len(m.Meta) > 0 && proto.Unmarshal(m.Meta, &e) == nil && e.GetStatus() != "" {
		n.ring.merge([]*kvpb.RingMember{&e})
	}
	if m.State == membership.Alive {
		n.peers.Wake(m.Name)
	}
}

// syncPeers connects to every node of the ring state that has an address
// and is not connected yet (or moved).
func (n *Node) syncPeers() error {
	addrs := map[string]string{}
	for id, e := range n.ring.View().Members {
		addrs[id] = e.GetAddr()
	}
	return n.peers.Sync(addrs)
}

// ringLoop persists the ring state, connects to new peers and re-announces
// this node's entry after each change.
func (n *Node) ringLoop() {
	var lastOwn *kvpb.RingMember
	for {
		select {
		case <-n.stop.Done():
			return
		case <-n.ring.Dirty():
		}
		if n.gossip != nil {
			if err := n.ring.persist(); err != nil {
				n.log.Error("ring: persist", "err", err)
			}
		}
		if err := n.syncPeers(); err != nil {
			n.log.Error("ring: connect to peers", "err", err)
		}
		n.met.ringChanges.Inc()
		own := n.ring.View().Members[n.cfg.ID]
		if n.gossip != nil && own != nil && (lastOwn == nil || !proto.Equal(own, lastOwn)) {
			// Covers entries adopted from others, which setStatus did not send.
			if err := n.gossip.UpdateMeta(time.Second); err != nil {
				n.log.Debug("ring: entry broadcast", "err", err)
			}
		}
		lastOwn = own
	}
}
