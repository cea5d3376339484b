package results

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/quorumlab/quorumlab/history"
)

// faultNodes are the nodes a fault hit, as its start event names them: a
// kill's or pause's nodes, a clock fault's offsets, a partition's cut
// nodes, a membership change's node.
func faultNodes(value json.RawMessage) []string {
	var v struct {
		Nodes   []string            `json:"nodes"`
		Offsets map[string]string   `json:"offsets"`
		Grudge  map[string][]string `json:"grudge"`
		Node    string              `json:"node"`
	}
	if json.Unmarshal(value, &v) != nil {
		return nil
	}
	set := map[string]bool{}
	for _, n := range v.Nodes {
		set[n] = true
	}
	for n := range v.Offsets {
		set[n] = true
	}
	for n, cut := range v.Grudge {
		if len(cut) > 0 {
			set[n] = true
		}
	}
	if v.Node != "" {
		set[v.Node] = true
	}
	return slices.Collect(maps.Keys(set))
}

// byNodeName orders n2 before n10.
func byNodeName(a, b string) int {
	na, ea := strconv.Atoi(strings.TrimLeft(a, "abcdefghijklmnopqrstuvwxyz"))
	nb, eb := strconv.Atoi(strings.TrimLeft(b, "abcdefghijklmnopqrstuvwxyz"))
	if ea == nil && eb == nil && strings.TrimRight(a, "0123456789") == strings.TrimRight(b, "0123456789") {
		return cmp.Compare(na, nb)
	}
	return cmp.Compare(a, b)
}

// laneBars draws each fault as a bar in the lane of every node it hit.
type laneBars struct {
	lanes  map[string]int
	faults []history.Fault
}

func (l laneBars) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	for _, f := range l.faults {
		x0, x1 := faultSpan(f, c, p)
		for _, n := range faultNodes(f.Value) {
			i, ok := l.lanes[n]
			if !ok {
				continue
			}
			y0, y1 := trY(float64(i)-0.35), trY(float64(i)+0.35)
			c.FillPolygon(faultColor(f.Kind), []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
		}
	}
}

// timelineChart shows which nodes each fault hit, a lane per node, on the
// time axis of the other plots; nil if no fault names a node.
func timelineChart(faults []history.Fault, nodes []string, span float64) *chart {
	set := map[string]bool{}
	for _, n := range nodes {
		set[n] = true
	}
	hit := false
	for _, f := range faults {
		for _, n := range faultNodes(f.Value) {
			set[n], hit = true, true
		}
	}
	if !hit {
		return nil
	}
	names := slices.SortedFunc(maps.Keys(set), byNodeName)
	ch := chart{Title: "faults by node: which nodes each fault hit"}
	p := newPlot("time since start (s)", "")
	lanes := map[string]int{}
	var ticks []plot.Tick
	for i, n := range names {
		lanes[n] = len(names) - 1 - i // n1 on top
		ticks = append(ticks, plot.Tick{Value: float64(lanes[n]), Label: n})
	}
	p.Add(laneBars{lanes: lanes, faults: faults})
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min, p.Y.Max = -0.6, float64(len(names))-0.4
	p.X.Min, p.X.Max = 0, max(span*1.01, 1)
	ch.Legend = faultLegend(faults)
	svg, err := render(p, plotWidth, vg.Points(float64(40+22*len(names))))
	if err != nil {
		ch.Err = err.Error()
	}
	ch.SVG = svg
	return &ch
}
