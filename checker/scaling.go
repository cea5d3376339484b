package checker

import (
	"encoding/json"

	"github.com/quorumlab/quorumlab/history"
)

// Scaling is an autoscaler's record of a run: its ring changes with their
// reasons, and the ring's size and load over time.
type Scaling struct {
	Changes []ScaleChange `json:"changes"`
	// Nodes is the ring's size at each observation.
	Nodes []NodeCount `json:"nodes"`
	// Adds and Removes count the changes that completed.
	Adds    int `json:"adds"`
	Removes int `json:"removes"`
}

// ScaleChange is one ring change an autoscaler decided.
type ScaleChange struct {
	Start  float64 `json:"start_s"` // since the history began
	End    float64 `json:"end_s"`   // 0: it never ended
	Action string  `json:"action"`
	Node   string  `json:"node,omitempty"`
	Reason string  `json:"reason"`
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
	// LoadBefore is the mean coordinated requests/s per node at the last
	// observation before the change, LoadAfter at the first one after it
	// in which the ring had changed size and every member had a sample
	// (0: none).
	NodesBefore int     `json:"nodes_before"`
	LoadBefore  float64 `json:"load_before"`
	NodesAfter  int     `json:"nodes_after,omitempty"`
	LoadAfter   float64 `json:"load_after,omitempty"`
}

// NodeCount is the ring's size at one time.
type NodeCount struct {
	T     float64 `json:"t_s"`
	Nodes int     `json:"nodes"`
	// Load is the mean coordinated requests/s per node then.
	Load float64 `json:"load"`
}

// scaling reads the autoscaler's records; nil if there are none.
func scaling(ops []history.Op) *Scaling {
	var out Scaling
	var last *NodeCount // the latest full observation
	any := false
	for _, op := range ops {
		if !op.IsNemesis() || op.F != history.FScale {
			continue
		}
		var s history.Scale
		if json.Unmarshal(op.Value, &s) != nil {
			continue
		}
		any = true
		t := float64(op.Time) / 1e9
		switch s.Phase {
		case "observe":
			if s.Nodes == 0 {
				continue // no observation (the cluster did not answer)
			}
			nc := NodeCount{T: t, Nodes: s.Nodes, Load: mean(s.Load)}
			out.Nodes = append(out.Nodes, nc)
			if len(s.Load) < s.Nodes {
				continue // a member without a sample: not the settled load
			}
			last = &out.Nodes[len(out.Nodes)-1]
			for i := range out.Changes {
				if c := &out.Changes[i]; c.OK && c.NodesAfter == 0 && t > c.End && nc.Nodes != c.NodesBefore {
					c.NodesAfter, c.LoadAfter = nc.Nodes, nc.Load
				}
			}
		case "start":
			c := ScaleChange{Start: t, Action: s.Action, Node: s.Node, Reason: s.Reason, NodesBefore: s.Nodes}
			if last != nil {
				c.LoadBefore = last.Load
			}
			out.Changes = append(out.Changes, c)
		case "done", "failed":
			for i := len(out.Changes) - 1; i >= 0; i-- {
				c := &out.Changes[i]
				if c.End == 0 && c.Action == s.Action {
					c.End, c.OK, c.Error = t, s.Phase == "done", s.Error
					if s.Node != "" {
						c.Node = s.Node
					}
					if c.OK && c.Action == "add" {
						out.Adds++
					} else if c.OK {
						out.Removes++
					}
					break
				}
			}
		}
	}
	if !any {
		return nil
	}
	return &out
}

func mean(load map[string]float64) float64 {
	if len(load) == 0 {
		return 0
	}
	var sum float64
	for _, v := range load {
		sum += v
	}
	return sum / float64(len(load))
}
