package kvnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/merkle"
	"github.com/quorumlab/quorumlab/kvnode/peer"
	"github.com/quorumlab/quorumlab/kvnode/ring"
	"github.com/quorumlab/quorumlab/kvnode/storage"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// Moving data between nodes: every path ships whole version sets (Entry),
// which the receiver merges, so a repeated or reordered transfer is
// harmless.

// mover streams entries between this node's store and its peers: pushes,
// pulls, scans and the Merkle trees that anti-entropy compares. It knows
// nothing of the node.
type mover struct {
	cfg     Config
	met     *metrics
	peers   *peer.Set
	replica *replica
	store   *storage.Store
}

// Batches of Transfer and Scan messages stay well under the gRPC message
// limit.
const (
	batchKeys  = 256
	batchBytes = 1 << 20
)

// push sends entries to node id in batches and returns how many of them,
// from the start, were acknowledged. To this node itself they are applied
// locally.
func (mv *mover) push(ctx context.Context, id string, entries []*kvpb.Entry) (int, error) {
	if id == mv.cfg.ID {
		if _, err := mv.applyEntries(entries); err != nil {
			return 0, err
		}
		return len(entries), nil
	}
	p := mv.peers.Get(id)
	if p == nil {
		return 0, fmt.Errorf("no connection to %s", id)
	}
	done := 0
	for done < len(entries) {
		end, size := done, 0
		for end < len(entries) && end-done < batchKeys && size < batchBytes {
			size += proto.Size(entries[end])
			end++
		}
		cctx, cancel := context.WithTimeout(ctx, 10*mv.cfg.RequestTimeout)
		_, err := p.Replica.Transfer(cctx, &kvpb.TransferRequest{Entries: entries[done:end], From: mv.cfg.ID})
		cancel()
		if err != nil {
			mv.met.replicaErrors.WithLabelValues(id, "transfer").Inc()
			return done, fmt.Errorf("transfer to %s: %w", id, err)
		}
		done = end
	}
	return done, nil
}

// applyEntries merges entries received from another node, the data ones
// in one storage commit, and returns how many changed the local data.
func (mv *mover) applyEntries(es []*kvpb.Entry) (int, error) { return mergeMany(mv.replica, es) }

// scanRange calls fn for every local key in rg, in token order.
func (mv *mover) scanRange(rg ring.Range, fn func(token uint64, key []byte, set *kvpb.VersionSet) error) error {
	if rg.Start < rg.End {
		return mv.store.Scan(rg.Start+1, rg.End, fn)
	}
	// The range wraps past zero (or, Start == End, is the whole ring).
	if rg.Start < math.MaxUint64 {
		if err := mv.store.Scan(rg.Start+1, math.MaxUint64, fn); err != nil {
			return err
		}
	}
	return mv.store.Scan(0, rg.End, fn)
}

func toPBRanges(rs []ring.Range) []*kvpb.TokenRange {
	out := make([]*kvpb.TokenRange, len(rs))
	for i, r := range rs {
		out[i] = &kvpb.TokenRange{Start: r.Start, End: r.End}
	}
	return out
}

func fromPBRanges(rs []*kvpb.TokenRange) []ring.Range {
	out := make([]ring.Range, len(rs))
	for i, r := range rs {
		out[i] = ring.Range{Start: r.GetStart(), End: r.GetEnd()}
	}
	return out
}

// entryHash is an entry's Merkle hash: its key and its versions' canonical
// encodings.
func entryHash(key []byte, set *kvpb.VersionSet) uint64 {
	vs := make([][]byte, len(set.GetVersions()))
	for i, v := range set.GetVersions() {
		vs[i], _ = proto.MarshalOptions{Deterministic: true}.Marshal(v)
	}
	return merkle.Hash(key, vs)
}

// buildTree hashes the local keys in ranges into a tree of the given depth.
func (mv *mover) buildTree(ranges []ring.Range, depth int) (*merkle.Tree, uint64, error) {
	t, err := merkle.New(depth)
	if err != nil {
		return nil, 0, err
	}
	var keys uint64
	cutoff := mv.cfg.tombstoneCutoff()
	for _, rg := range ranges {
		err := mv.scanRange(rg, func(token uint64, key []byte, set *kvpb.VersionSet) error {
			// As if collected already, as a peer may have: the trees
			// agree. Entries are still sent with their tombstones, so a
			// replica that missed the delete learns of it while it can.
			if version.Expired(mv.cfg.Mode, set.GetVersions(), cutoff) {
				return nil
			}
			t.Add(token, entryHash(key, set))
			keys++
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return t, keys, nil
}

// scanEntries calls send with batches of the local entries in ranges, only
// those in leaves (of a tree of depth) if leaves is not empty.
func (mv *mover) scanEntries(ranges []ring.Range, depth int, leaves []uint32, send func([]*kvpb.Entry) error) error {
	var want map[uint32]bool
	if len(leaves) > 0 {
		want = make(map[uint32]bool, len(leaves))
		for _, l := range leaves {
			want[l] = true
		}
	}
	var batch []*kvpb.Entry
	size := 0
	for _, rg := range ranges {
		err := mv.scanRange(rg, func(token uint64, key []byte, set *kvpb.VersionSet) error {
			if want != nil && !want[merkle.Leaf(token, depth)] {
				return nil
			}
			e := &kvpb.Entry{Key: key, Set: set}
			batch = append(batch, e)
			size += proto.Size(e)
			if len(batch) >= batchKeys || size >= batchBytes {
				if err := send(batch); err != nil {
					return err
				}
				batch, size = nil, 0
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(batch) > 0 {
		return send(batch)
	}
	return nil
}

// pull streams a peer's entries in ranges (only those in leaves, if any) and
// merges them here; it returns how many entries arrived and how many
// changed the local copy.
func (mv *mover) pull(ctx context.Context, id string, ranges []ring.Range, depth int, leaves []uint32) (got, changed int, err error) {
	p := mv.peers.Get(id)
	if p == nil {
		return 0, 0, fmt.Errorf("no connection to %s", id)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := p.Replica.Scan(ctx, &kvpb.ScanRequest{Ranges: toPBRanges(ranges), Depth: uint32(depth), Leaves: leaves})
	if err != nil {
		return 0, 0, fmt.Errorf("scan %s: %w", id, err)
	}
	for {
		// A stalled peer must not hold the caller forever.
		timer := time.AfterFunc(10*mv.cfg.RequestTimeout, cancel)
		msg, err := stream.Recv()
		timer.Stop()
		if errors.Is(err, io.EOF) {
			return got, changed, nil
		}
		if err != nil {
			return got, changed, fmt.Errorf("scan %s: %w", id, err)
		}
		for _, e := range msg.GetEntries() {
			if e.GetHintFor() != "" {
				return got, changed, fmt.Errorf("scan %s: a hint among the data", id)
			}
		}
		ch, err := mv.applyEntries(msg.GetEntries())
		if err != nil {
			return got, changed, err
		}
		got += len(msg.GetEntries())
		changed += ch
	}
}
