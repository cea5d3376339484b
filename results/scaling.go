package results

import (
	"image/color"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/history"
)

// nodesChart plots the ring's size over time, as the autoscaler observed
// it, on the same time axis as the throughput and latency plots above it.
func nodesChart(s *checker.Scaling, faults []history.Fault, span float64) *chart {
	if s == nil || len(s.Nodes) == 0 {
		return nil
	}
	ch := chart{Title: "ring size over time (autoscaler's observations)", Note: "a step at each change the autoscaler saw complete"}
	p := newPlot("time since start (s)", "nodes in the ring")
	p.Add(faultShade{faults})
	var xys plotter.XYs
	for i, n := range s.Nodes {
		if i > 0 {
			xys = append(xys, plotter.XY{X: n.T, Y: float64(s.Nodes[i-1].Nodes)})
		}
		xys = append(xys, plotter.XY{X: n.T, Y: float64(n.Nodes)})
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		ch.Err = err.Error()
		return &ch
	}
	col := color.NRGBA{0x22, 0x55, 0xaa, 0xff}
	l.Color, l.Width = col, vg.Points(1.5)
	p.Add(l)
	ch.Legend = append(ch.Legend, legendEntry{Label: "nodes", Color: css(col), Shape: "line"})
	ch.Legend = append(ch.Legend, faultLegend(faults)...)
	p.X.Min, p.X.Max = 0, max(span*1.01, 1)
	p.Y.Min = 0
	draws(&ch, p)
	return &ch
}
