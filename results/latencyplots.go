package results

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/quorumlab/quorumlab/history"
)

const (
	// maxScatterPoints caps the points of all latency scatters together, so
	// that a report of a long run stays a few MB.
	maxScatterPoints = 20000
	// maxCDFPoints caps the points of one CDF line.
	maxCDFPoints = 400
)

// scatterCharts plots the latency of every completed operation against its
// invocation time, one chart per f, coloured by outcome, fault periods shaded.
func scatterCharts(ss []sample, faults []history.Fault, span float64) []chart {
	fs := functions(ss)
	var out []chart
	for _, f := range fs {
		var mine []sample
		for _, s := range ss {
			if s.f == f {
				mine = append(mine, s)
			}
		}
		// Each f gets a share of the cap in proportion to its operations.
		limit := max(maxScatterPoints*len(mine)/len(ss), 1000)
		kept := thin(mine, limit)
		ch := chart{Title: f + " latency over time"}
		note, xLabel := openLoopNote(mine)
		if len(kept) < len(mine) {
			note = strings.TrimSpace(fmt.Sprintf("%d of %d operations drawn: every failed and indeterminate one, an even sample of the ok ones. %s", len(kept), len(mine), note))
		}
		ch.Note = note
		p := newPlot(xLabel, msLog)
		p.Add(faultShade{faults})
		counts := map[history.Type]int{}
		for _, s := range mine {
			counts[s.outcome]++
		}
		for _, t := range []history.Type{history.OK, history.Info, history.Fail} {
			var xys plotter.XYs
			for _, s := range kept {
				if s.outcome == t {
					xys = append(xys, plotter.XY{X: s.start, Y: s.ms})
				}
			}
			if len(xys) == 0 {
				continue
			}
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				ch.Err = err.Error()
				break
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: outcomeColor(t), Radius: vg.Points(1.4), Shape: draw.CircleGlyph{}}
			p.Add(sc)
			ch.Legend = append(ch.Legend, legendEntry{Label: fmt.Sprintf("%s (%d)", t, counts[t]), Color: css(outcomeColor(t)), Shape: "dot"})
		}
		ch.Legend = append(ch.Legend, faultLegend(faults)...)
		p.X.Min, p.X.Max = 0, max(span*1.01, 1)
		logY(p)
		if ch.Err == "" {
			draws(&ch, p)
		}
		out = append(out, ch)
	}
	return out
}

// bucketSeconds is the width of the time buckets of the over-time plots.
const bucketSeconds = 1.0

// quantileChart plots p50 and p99 of ok latencies per f per second of
// invocation time.
func quantileChart(ss []sample, faults []history.Fault, span float64) chart {
	ch := chart{Title: "latency quantiles over time (ok operations, per 1 s)"}
	var xLabel string
	ch.Note, xLabel = openLoopNote(ss)
	p := newPlot(xLabel, msLog)
	p.Add(faultShade{faults})
	n := int(math.Ceil(span/bucketSeconds)) + 1
	added := false
	for i, f := range functions(ss) {
		buckets := make([][]float64, n)
		for _, s := range ss {
			if s.f == f && s.outcome == history.OK {
				b := min(int(s.start/bucketSeconds), n-1)
				buckets[b] = append(buckets[b], s.ms)
			}
		}
		for _, q := range []struct {
			name string
			q    float64
			dash bool
		}{{"p99", 0.99, false}, {"p50", 0.50, true}} {
			var xys plotter.XYs
			for b, lat := range buckets {
				// Skip empty buckets, and a last one cut too short to say much.
				if len(lat) == 0 || span-float64(b)*bucketSeconds < 0.2*bucketSeconds {
					continue
				}
				slices.Sort(lat)
				// The middle of the bucket, or of its part before the end.
				x := min(float64(b)+0.5, (float64(b)+span/bucketSeconds)/2) * bucketSeconds
				xys = append(xys, plotter.XY{X: x, Y: quantile(lat, q.q)})
			}
			if len(xys) == 0 {
				continue
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				ch.Err = err.Error()
				return ch
			}
			l.Color, l.Width = palette(i), vg.Points(1.5)
			shape := "line"
			if q.dash {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				shape = "dash"
			}
			p.Add(l)
			if err := addDots(p, xys, palette(i)); err != nil {
				ch.Err = err.Error()
				return ch
			}
			added = true
			ch.Legend = append(ch.Legend, legendEntry{Label: f + " " + q.name, Color: css(palette(i)), Shape: shape})
		}
	}
	if !added {
		ch.Err = "no ok operations"
		return ch
	}
	ch.Legend = append(ch.Legend, faultLegend(faults)...)
	p.X.Min, p.X.Max = 0, max(span*1.01, 1)
	logY(p)
	draws(&ch, p)
	return ch
}

// addDots marks the points of a short series, so that a lone point (a
// line of one bucket draws nothing) and the bucket positions show.
func addDots(p *plot.Plot, xys plotter.XYs, col color.Color) error {
	if len(xys) > 90 {
		return nil
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(1.8), Shape: draw.CircleGlyph{}}
	p.Add(sc)
	return nil
}

// quantile returns the q-quantile of sorted xs (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// throughputChart plots completions per second: ok ones per f, and all
// failed or indeterminate ones together.
func throughputChart(ss []sample, faults []history.Fault, span float64) chart {
	ch := chart{Title: "throughput over time (completions per 1 s)"}
	p := newPlot("time since start (s)", "operations/s")
	p.Add(faultShade{faults})
	n := int(math.Ceil(span / bucketSeconds))
	if n < 1 {
		ch.Err = "the history is too short"
		return ch
	}
	// The last bucket may be cut short by the end of the history.
	width := func(b int) float64 { return min(bucketSeconds, span-float64(b)*bucketSeconds) }
	series := func(keep func(sample) bool) plotter.XYs {
		counts := make([]int, n)
		for _, s := range ss {
			if keep(s) {
				counts[min(int(s.end/bucketSeconds), n-1)]++
			}
		}
		var xys plotter.XYs
		for b, c := range counts {
			if w := width(b); w >= 0.2*bucketSeconds {
				xys = append(xys, plotter.XY{X: (float64(b) + 0.5) * bucketSeconds, Y: float64(c) / w})
			}
		}
		return xys
	}
	type line struct {
		label string
		col   color.NRGBA
		dash  bool
		keep  func(sample) bool
	}
	fs := functions(ss)
	var lines []line
	if len(fs) > 1 {
		lines = append(lines, line{"all ok", color.NRGBA{0x22, 0x22, 0x22, 0xff}, false, func(s sample) bool { return s.outcome == history.OK }})
	}
	for i, f := range fs {
		lines = append(lines, line{f + " ok", palette(i), false, func(s sample) bool { return s.f == f && s.outcome == history.OK }})
	}
	lines = append(lines, line{"fail + info", outcomeColor(history.Fail), true, func(s sample) bool { return s.outcome != history.OK }})
	for _, ln := range lines {
		xys := series(ln.keep)
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			ch.Err = err.Error()
			return ch
		}
		l.Color, l.Width = ln.col, vg.Points(1.5)
		shape := "line"
		if ln.dash {
			l.Dashes, shape = []vg.Length{vg.Points(4), vg.Points(3)}, "dash"
		}
		p.Add(l)
		if err := addDots(p, xys, ln.col); err != nil {
			ch.Err = err.Error()
			return ch
		}
		ch.Legend = append(ch.Legend, legendEntry{Label: ln.label, Color: css(ln.col), Shape: shape})
	}
	ch.Legend = append(ch.Legend, faultLegend(faults)...)
	p.X.Min, p.X.Max = 0, max(span*1.01, 1)
	p.Y.Min = 0
	draws(&ch, p)
	return ch
}

// cdfChart plots the distribution of ok latencies per f, of the operations
// that started at or after from (s): the measured window.
func cdfChart(ss []sample, from float64) chart {
	ch := chart{Title: "latency CDF per operation (ok)"}
	p := newPlot(msLog, "share of operations")
	added := false
	for i, f := range functions(ss) {
		var lat []float64
		for _, s := range ss {
			if s.f == f && s.outcome == history.OK && s.start >= from {
				lat = append(lat, s.ms)
			}
		}
		if len(lat) == 0 {
			continue
		}
		slices.Sort(lat)
		// Evenly spaced ranks, plus the last, so the tail's end shows.
		idx := spread(indexes(len(lat)), maxCDFPoints)
		if idx[len(idx)-1] != len(lat)-1 {
			idx = append(idx, len(lat)-1)
		}
		xys := make(plotter.XYs, 0, len(idx))
		for _, j := range idx {
			xys = append(xys, plotter.XY{X: lat[j], Y: float64(j+1) / float64(len(lat))})
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			ch.Err = err.Error()
			return ch
		}
		l.Color, l.Width = palette(i), vg.Points(1.5)
		p.Add(l)
		added = true
		ch.Legend = append(ch.Legend, legendEntry{Label: fmt.Sprintf("%s (%d)", f, len(lat)), Color: css(palette(i)), Shape: "line"})
	}
	if !added {
		ch.Err = "no ok operations"
		return ch
	}
	p.X.Min, p.X.Max = logRange(p.X.Min, p.X.Max)
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
	p.Y.Min, p.Y.Max = 0, 1
	draws(&ch, p)
	return ch
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
