package results

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// describeFault says what a fault did in words a reader scans: the sides
// of a partition ("n1, n2 | n3, n4, n5"), the nodes of a kill or pause,
// the offsets of a clock fault; nodes are the cluster's, since a grudge
// names only the nodes it cuts. What it cannot read it gives as JSON.
func describeFault(value json.RawMessage, nodes []string) string {
	var v struct {
		Shape   string              `json:"shape"`
		Grudge  map[string][]string `json:"grudge"`
		Nodes   []string            `json:"nodes"`
		Targets string              `json:"targets"`
		Rate    float64             `json:"rate"`
		Offsets map[string]string   `json:"offsets"`
		Period  string              `json:"period"`
	}
	if json.Unmarshal(value, &v) != nil {
		return string(value)
	}
	how := ""
	if v.Targets != "" {
		how = " (" + v.Targets + ")"
	}
	switch {
	case len(v.Grudge) > 0:
		return strings.TrimSpace(v.Shape + ": " + sides(v.Grudge, nodes))
	case len(v.Offsets) > 0:
		var parts []string
		for _, n := range slices.Sorted(maps.Keys(v.Offsets)) {
			off := v.Offsets[n]
			if !strings.HasPrefix(off, "-") {
				off = "+" + off
			}
			parts = append(parts, n+" "+off)
		}
		if v.Period != "" {
			return "flipping between 0 and " + strings.Join(parts, ", ") + " every " + v.Period + how
		}
		return strings.Join(parts, ", ") + how
	case v.Rate > 0 && len(v.Nodes) > 0:
		return fmt.Sprintf("%.0f %% of packets dropped on %s", 100*v.Rate, strings.Join(v.Nodes, ", "))
	case len(v.Nodes) > 0:
		return strings.Join(v.Nodes, ", ") + how
	}
	return string(value)
}

// sides renders a grudge: as the groups that reach only each other when it
// splits the nodes so, else as the cut links.
func sides(g map[string][]string, known []string) string {
	nodes := map[string]bool{}
	for _, n := range known {
		nodes[n] = true
	}
	for a, bs := range g {
		nodes[a] = true
		for _, b := range bs {
			nodes[b] = true
		}
	}
	all := slices.Sorted(maps.Keys(nodes))
	reach := func(a string) []string { // a and the nodes it reaches
		var out []string
		for _, b := range all {
			if !slices.Contains(g[a], b) {
				out = append(out, b)
			}
		}
		return out
	}
	var groups [][]string
	seen := map[string]bool{}
	for _, a := range all {
		if seen[a] {
			continue
		}
		grp := reach(a)
		for _, b := range grp {
			if !slices.Equal(reach(b), grp) {
				return cuts(g)
			}
			seen[b] = true
		}
		groups = append(groups, grp)
	}
	parts := make([]string, len(groups))
	for i, grp := range groups {
		parts[i] = strings.Join(grp, ", ")
	}
	return strings.Join(parts, " | ")
}

func cuts(g map[string][]string) string {
	var out []string
	for _, a := range slices.Sorted(maps.Keys(g)) {
		for _, b := range g[a] {
			if a < b {
				out = append(out, a+"–"+b)
			}
		}
	}
	return "cut " + strings.Join(out, ", ")
}
