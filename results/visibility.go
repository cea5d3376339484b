package results

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/quorumlab/quorumlab/checker"
)

// visibilitySeries is one t-visibility curve.
type visibilitySeries struct {
	Label  string
	Points []checker.VisibilityPoint
}

// log1pScale is a log scale that admits 0: it spaces log(1+x).
type log1pScale struct{}

func (log1pScale) Normalize(lo, hi, x float64) float64 {
	return (math.Log1p(x) - math.Log1p(lo)) / (math.Log1p(hi) - math.Log1p(lo))
}

// visibilityChart plots t-visibility curves: the probability that a read
// begun t ms after a write completed sees it (or something newer).
func visibilityChart(title string, series []visibilitySeries) chart {
	ch := chart{Title: title}
	p := newPlot("t: ms after the write completed (log)", "P(read sees it)")
	hi, lowest := 1.0, 1.0
	step := min(1.3, 6.5/float64(max(len(series)-1, 1)))
	added := false
	for i, s := range series {
		var xys plotter.XYs
		for _, pt := range s.Points {
			if pt.Reads > 0 {
				xys = append(xys, plotter.XY{X: float64(pt.AfterMs), Y: pt.FreshShare})
				hi, lowest = max(hi, float64(pt.AfterMs)), min(lowest, pt.FreshShare)
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			ch.Err = err.Error()
			return ch
		}
		col := palette(i)
		l.Color, l.Width = col, vg.Points(1.5)
		// Curves often coincide (at 1, say): earlier series get larger dots,
		// so each shows as a ring around the ones drawn over it.
		pts.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.5 + step*float64(len(series)-1-i)), Shape: draw.CircleGlyph{}}
		// Configurations often share a curve; a dash per series keeps the
		// ones drawn first visible under the later ones.
		if i > 0 {
			l.Dashes = []vg.Length{vg.Points(float64(2 + 2*(i%4))), vg.Points(2)}
		}
		p.Add(l, pts)
		added = true
		ch.Legend = append(ch.Legend, legendEntry{Label: s.Label, Color: css(col), Shape: "line"})
	}
	if !added {
		ch.Err = "no reads followed a completed write"
		return ch
	}
	p.X.Min, p.X.Max = 0, hi
	p.X.Scale = log1pScale{}
	var ticks plot.ConstantTicks
	for _, t := range []float64{0, 1, 5, 10, 50, 100, 500, 1000} {
		if t <= hi {
			ticks = append(ticks, plot.Tick{Value: t, Label: fmt.Sprint(t)})
		}
	}
	p.X.Tick.Marker = ticks
	// Shares are usually near 1: zoom in on the range the curves use.
	p.Y.Min, p.Y.Max = math.Max(0, math.Floor((lowest-0.02)*20)/20), 1.005
	draws(&ch, p)
	return ch
}
