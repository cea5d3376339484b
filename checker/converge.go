package checker

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/quorumlab/quorumlab/history"
)

// Convergence is the replica convergence check: after the final heal and
// recovery, every home replica of every touched key must hold the same
// version set, and no node may still hold hints. It is what a quorum read
// cannot see: a replica that missed a write (a lost hint, a join that did
// not pull a range) is outvoted by the others.
type Convergence struct {
	Verdict Verdict `json:"verdict"`
	Keys    int     `json:"keys"`
	// Diverged are the keys whose replicas still disagree, at most 20.
	Diverged      []DivergedKey `json:"diverged,omitempty"`
	DivergedCount int           `json:"diverged_count"`
	// Unread are keys some replica of which could not be read.
	Unread int `json:"unread,omitempty"`
	// UnreadHints are nodes whose hint count could not be read.
	UnreadHints int `json:"unread_hints,omitempty"`
	// Hints are nodes that still hold undelivered hints.
	Hints map[string]uint64 `json:"hints,omitempty"`
	// HintsStored and HintsDelivered sum the nodes' counters: hints made
	// for home replicas that were unreachable, and hints handed over.
	// A restart resets a node's counters, so both are lower bounds.
	HintsStored    uint64 `json:"hints_stored,omitempty"`
	HintsDelivered uint64 `json:"hints_delivered,omitempty"`
	// RangeGroups are the groups of token ranges sharing their replicas
	// whose Merkle roots were compared; RangesDiverged describes those
	// whose replicas' roots differ (at most 20), RangesDivergedCount
	// counts them, and RangesUnread those with a replica unread.
	RangeGroups         int      `json:"range_groups,omitempty"`
	RangesDiverged      []string `json:"ranges_diverged,omitempty"`
	RangesDivergedCount int      `json:"ranges_diverged_count,omitempty"`
	RangesUnread        int      `json:"ranges_unread,omitempty"`
	// Waited is how long the harness waited for agreement, in seconds.
	Waited float64 `json:"waited_s"`
	Note   string  `json:"note,omitempty"`
}

// DivergedKey is one key whose replicas disagree, in words and by replica.
type DivergedKey struct {
	Key      string                     `json:"key"`
	Text     string                     `json:"text"`
	Replicas map[string]history.Replica `json:"replicas"`
}

// convergence reads the convergence records; nil if there are none.
func convergence(ops []history.Op) *Convergence {
	var out *Convergence
	for _, op := range ops {
		if !op.IsNemesis() || (op.F != history.FConverge && op.F != history.FHints && op.F != history.FMerkle) {
			continue
		}
		if out == nil {
			out = &Convergence{Verdict: Valid}
		}
		switch op.F {
		case history.FMerkle:
			var m history.MerkleRoots
			if json.Unmarshal(op.Value, &m) != nil || len(m.Roots) == 0 {
				out.RangesUnread++
				continue
			}
			out.RangeGroups++
			if d, unread := describeRoots(m); unread {
				out.RangesUnread++
			} else if d != "" {
				out.RangesDivergedCount++
				if len(out.RangesDiverged) < 20 {
					out.RangesDiverged = append(out.RangesDiverged, d)
				}
			}
		case history.FHints:
			var h history.Hints
			if json.Unmarshal(op.Value, &h) != nil || h.Error != "" {
				out.UnreadHints++ // unreadable is no evidence of none
				continue
			}
			out.HintsStored += h.Stored
			out.HintsDelivered += h.Delivered
			if h.Hints == 0 {
				continue
			}
			if out.Hints == nil {
				out.Hints = map[string]uint64{}
			}
			out.Hints[h.Node] = h.Hints
		case history.FConverge:
			var c history.Convergence
			if json.Unmarshal(op.Value, &c) != nil {
				out.Unread++
				continue
			}
			out.Keys++
			out.Waited = max(out.Waited, c.Waited)
			digests := map[string]bool{}
			unread := false
			for _, r := range c.Replicas {
				if r.Error != "" {
					unread = true
					continue
				}
				digests[r.Digest] = true
			}
			if unread {
				out.Unread++
			}
			if len(digests) > 1 {
				out.DivergedCount++
				if len(out.Diverged) < 20 {
					out.Diverged = append(out.Diverged, DivergedKey{Key: op.Key, Text: describeDivergence(op.Key, c), Replicas: c.Replicas})
				}
			}
		}
	}
	if out == nil {
		return nil
	}
	switch {
	case out.DivergedCount > 0 || len(out.Hints) > 0 || out.RangesDivergedCount > 0:
		out.Verdict = Invalid
	case out.Unread > 0 || out.UnreadHints > 0 || out.RangesUnread > 0:
		out.Verdict, out.Note = Unknown, fmt.Sprintf("%d keys had a replica that could not be read, %d nodes' hints could not be read, %d range groups had a Merkle root that could not be read", out.Unread, out.UnreadHints, out.RangesUnread)
	}
	return out
}

// describeRoots says how a range group's replicas differ ("" if they
// agree); unread if some replica could not be read.
func describeRoots(m history.MerkleRoots) (string, bool) {
	var parts []string
	same := true
	for _, r := range m.Roots {
		if r.Error != "" {
			return "", true
		}
		same = same && r.Root == m.Roots[0].Root
		parts = append(parts, fmt.Sprintf("%s root %s over %d keys", r.Node, r.Root, r.Keys))
	}
	if same {
		return "", false
	}
	return fmt.Sprintf("%d token ranges: %s", m.Ranges, strings.Join(parts, ", ")), false
}

func describeDivergence(key string, c history.Convergence) string {
	var parts []string
	for _, node := range slices.Sorted(maps.Keys(c.Replicas)) {
		r := c.Replicas[node]
		switch {
		case r.Error != "":
			parts = append(parts, fmt.Sprintf("%s unreadable (%s)", node, r.Error))
		case len(r.Values) == 0:
			parts = append(parts, fmt.Sprintf("%s holds nothing live [%s]", node, r.Digest))
		default:
			parts = append(parts, fmt.Sprintf("%s holds %s [%s]", node, strings.Join(r.Values, " | "), r.Digest))
		}
	}
	return fmt.Sprintf("key %s: replicas still disagree %.0f s after the heal: %s", key, c.Waited, strings.Join(parts, "; "))
}
