package results

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/history"
)

// Plot sizes, in points; CSS scales the SVGs to the page width.
const (
	plotWidth  = 10 * vg.Inch
	plotHeight = 3.4 * vg.Inch
	// maxScatterPoints caps the points of all latency scatters together, so
	// that a report of a long run stays a few MB.
	maxScatterPoints = 20000
	// maxCDFPoints caps the points of one CDF line.
	maxCDFPoints = 400
)

// chart is one rendered plot: inline SVG and its legend, drawn in HTML
// (gonum's legends sit inside the data area, over the points).
type chart struct {
	Title  string
	Note   string // below the title: what was sampled, what is left out
	SVG    template.HTML
	Legend []legendEntry
	Err    string // why the plot could not be drawn
}

type legendEntry struct {
	Label string
	Color template.CSS
	Shape string // "dot", "line", "dash" or "area"
}

// Colours.
var (
	colOK   = color.NRGBA{0x2b, 0x6c, 0xb0, 0xa0}
	colFail = color.NRGBA{0xd6, 0x27, 0x28, 0xff}
	colInfo = color.NRGBA{0xf0, 0x8c, 0x00, 0xff}
)

// palette returns the i-th series colour (Tableau 10).
func palette(i int) color.NRGBA {
	p := [...]color.NRGBA{
		{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
		{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
		{0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
		{0x17, 0xbe, 0xcf, 0xff},
	}
	return p[i%len(p)]
}

func outcomeColor(t history.Type) color.NRGBA {
	switch t {
	case history.OK:
		return colOK
	case history.Fail:
		return colFail
	}
	return colInfo
}

// unmeasured is the shaded period before the measured window (a load
// phase, a warmup): drawn like a fault, but no fault.
const unmeasured = "not measured (load, warmup)"

// faultColor shades a fault period by its kind.
func faultColor(kind string) color.NRGBA {
	switch kind {
	case "partition":
		return color.NRGBA{0xe4, 0x57, 0x56, 0x30}
	case "kill":
		return color.NRGBA{0x7b, 0x3f, 0xb0, 0x30}
	case "pause":
		return color.NRGBA{0x2f, 0x8f, 0xd0, 0x30}
	case "power":
		return color.NRGBA{0x40, 0x20, 0x20, 0x30}
	case "loss", "delay":
		return color.NRGBA{0xf0, 0xa0, 0x20, 0x38}
	case "clock", "strobe":
		return color.NRGBA{0x30, 0xa0, 0x50, 0x30}
	case unmeasured:
		return color.NRGBA{0x60, 0x60, 0x60, 0x28}
	}
	return color.NRGBA{0x80, 0x80, 0x80, 0x30}
}

func css(c color.Color) template.CSS {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	if n.A == 0xff {
		return template.CSS(fmt.Sprintf("#%02x%02x%02x", n.R, n.G, n.B))
	}
	return template.CSS(fmt.Sprintf("rgba(%d,%d,%d,%.2f)", n.R, n.G, n.B, float64(n.A)/255))
}

// sample is one completed client operation.
type sample struct {
	f       string
	outcome history.Type
	start   float64 // invocation (intended, if open loop), s since the history began
	end     float64 // completion, s
	ms      float64 // latency
	open    bool    // start is the intended start of an open-loop operation
}

// samples returns the completed client operations of ops in invocation
// order, and the span of the history in seconds. Latency runs from the
// operation's start (see Op.Intended) to its completion.
func samples(ops []history.Op) ([]sample, float64, error) {
	pairs, err := history.Pair(ops)
	if err != nil {
		return nil, 0, err
	}
	var span float64
	for _, op := range ops {
		span = max(span, float64(op.Time)/1e9)
	}
	out := make([]sample, 0, len(pairs))
	for _, p := range pairs {
		if !p.Completed() {
			continue
		}
		// An open-loop operation starts when the schedule meant to send it,
		// as the checker measures it (coordinated-omission correction).
		start := p.Invoke.Time
		if p.Invoke.Intended > 0 {
			start = p.Invoke.Intended
		}
		out = append(out, sample{
			f: p.Invoke.F, outcome: p.Completion.Type,
			start: float64(start) / 1e9, end: float64(p.Completion.Time) / 1e9,
			// Clamped above 0 for the log scales.
			ms:   max(float64(p.Completion.Time-start)/1e6, 0.001),
			open: p.Invoke.Intended > 0,
		})
	}
	return out, span, nil
}

// openLoopNote says how start times and latencies are measured when ss
// holds open-loop operations, and returns the X axis label to use.
func openLoopNote(ss []sample) (note, xLabel string) {
	for _, s := range ss {
		if s.open {
			return "Open loop: operations are placed at their intended start and latency is measured from it (corrected for coordinated omission).", "intended start since the beginning (s)"
		}
	}
	return "", "time since start (s)"
}

// functions returns the distinct fs of ss, sorted.
func functions(ss []sample) []string {
	var fs []string
	for _, s := range ss {
		if !slices.Contains(fs, s.f) {
			fs = append(fs, s.f)
		}
	}
	slices.Sort(fs)
	return fs
}

// thin keeps at most limit samples of ss (in the order of ss): every non-ok
// one, since failures are rare and what a reader looks for, then an even
// spread over the ok ones. If the non-ok ones alone exceed limit, they are
// spread evenly too.
func thin(ss []sample, limit int) []sample {
	if len(ss) <= limit {
		return ss
	}
	var ok, other []sample
	for _, s := range ss {
		if s.outcome == history.OK {
			ok = append(ok, s)
		} else {
			other = append(other, s)
		}
	}
	other = spread(other, limit)
	return append(spread(ok, limit-len(other)), other...)
}

// spread picks k elements of xs at evenly spaced indexes.
func spread[T any](xs []T, k int) []T {
	if k >= len(xs) {
		return xs
	}
	out := make([]T, 0, max(k, 0))
	for i := range k {
		out = append(out, xs[i*len(xs)/k])
	}
	return out
}

// faultShade is a plotter that shades fault periods over the full height of
// the data area.
type faultShade struct {
	faults []history.Fault
}

func (s faultShade) Plot(c draw.Canvas, p *plot.Plot) {
	for _, f := range s.faults {
		x0, x1 := faultSpan(f, c, p)
		c.FillPolygon(faultColor(f.Kind), []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
	}
}

// faultSpan is where fault f lies on the canvas's X axis, clipped to the
// plot; a fault of no length still gets a pixel.
func faultSpan(f history.Fault, c draw.Canvas, p *plot.Plot) (x0, x1 vg.Length) {
	trX, _ := p.Transforms(&c)
	x0 = max(trX(max(float64(f.Start)/1e9, p.X.Min)), c.Min.X)
	x1 = min(trX(min(float64(f.End)/1e9, p.X.Max)), c.Max.X)
	if x1 <= x0 {
		x1 = x0 + 1
	}
	return x0, x1
}

// faultLegend lists the kinds of faults once each.
func faultLegend(faults []history.Fault) []legendEntry {
	var out []legendEntry
	var seen []string
	for _, f := range faults {
		if slices.Contains(seen, f.Kind) {
			continue
		}
		seen = append(seen, f.Kind)
		label := "fault: " + f.Kind
		if f.Kind == unmeasured {
			label = unmeasured
		}
		out = append(out, legendEntry{Label: label, Color: css(faultColor(f.Kind)), Shape: "area"})
	}
	return out
}

// newPlot returns a plot with sans-serif text (the SVG names the font with
// metric-compatible fallbacks; see render).
func newPlot(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	sans := font.Font{Typeface: "Liberation", Variant: "Sans"}
	p.Title.TextStyle.Font = font.From(sans, 12)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 11)
		a.Tick.Label.Font = font.From(sans, 10)
	}
	p.Legend.TextStyle.Font = font.From(sans, 10)
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.X.Tick.Marker, p.Y.Tick.Marker = linearTicks{}, linearTicks{}
	p.Add(plotter.NewGrid())
	return p
}

// logY puts the Y axis on a log scale over the data, with a margin. Call
// it after the data is added.
func logY(p *plot.Plot) {
	p.Y.Min, p.Y.Max = logRange(p.Y.Min, p.Y.Max)
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
}

// logRange widens [lo, hi] to the nearest 1, 2 or 5 × 10^k outside a 10%
// margin, so that points do not sit on the frame.
func logRange(lo, hi float64) (float64, float64) {
	lo, hi = max(lo, 0.001)/1.1, max(hi, 0.001)*1.1
	steps := []float64{1, 2, 5, 10}
	e := math.Floor(math.Log10(lo))
	nlo := math.Pow(10, e)
	for _, m := range steps {
		if v := m * math.Pow(10, e); v <= lo {
			nlo = v
		}
	}
	e = math.Floor(math.Log10(hi))
	nhi := 10 * math.Pow(10, e)
	for i := len(steps) - 1; i >= 0; i-- {
		if v := steps[i] * math.Pow(10, e); v >= hi {
			nhi = v
		}
	}
	return nlo, nhi
}

// Axis labels are kept short on log axes: gonum centres a label's glyph box
// on the arithmetic mean of the range, which on a log scale sits near the
// end and would make it reserve a wide empty margin for a long label.
const msLog = "ms (log)"

// linearTicks labels about eight ticks, 1, 2 or 5 × 10^k apart (gonum's
// default labels as few as two on a long time axis).
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	raw := (hi - lo) / 8
	e := math.Floor(math.Log10(raw))
	mag := math.Pow(10, e)
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	prec := max(0, int(-math.Floor(math.Log10(step))))
	var ticks []plot.Tick
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
		v := k * step
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
		if mid := v + step/2; mid <= hi {
			ticks = append(ticks, plot.Tick{Value: mid}) // unlabelled minor tick
		}
	}
	return ticks
}

// logTicks labels the powers of ten, and 2× and 5× them when the axis
// spans at most two decades; the other multiples are minor ticks.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	labelled := []int{1}
	if hi/lo <= 100*(1+1e-9) {
		labelled = []int{1, 2, 5}
	}
	for e := int(math.Floor(math.Log10(lo))); e <= int(math.Ceil(math.Log10(hi))); e++ {
		for m := 1; m <= 9; m++ {
			v := float64(m) * math.Pow10(e)
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if slices.Contains(labelled, m) {
				t.Label = strconv.FormatFloat(v, 'f', max(0, -e), 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// render draws p as an SVG fragment for inline use. gonum/plot panics on
// some degenerate inputs; that becomes an error, so one bad plot does not
// lose the whole report.
func render(p *plot.Plot, w, h vg.Length) (svg template.HTML, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("draw plot: %v", r)
		}
	}()
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("write svg: %w", err)
	}
	s := buf.String()
	// Drop the XML prolog and comment: the SVG is inline in HTML.
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	// Fonts are not embedded (that would add ~300 KB per plot); Arial and
	// Helvetica have Liberation Sans's metrics, so labels still fit.
	s = strings.ReplaceAll(s, "font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")
	return template.HTML(s), nil // our own SVG output: text is escaped by svgo
}

// draws renders p into ch, recording a failure rather than returning it.
func draws(ch *chart, p *plot.Plot) {
	svg, err := render(p, plotWidth, plotHeight)
	if err != nil {
		ch.Err = err.Error()
		return
	}
	ch.SVG = svg
}

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
	lines = append(lines, line{"fail + info", colFail, true, func(s sample) bool { return s.outcome != history.OK }})
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

// barGroup is one set of bars, one bar per category.
type barGroup struct {
	Label  string
	Color  color.Color // nil: the group's palette colour
	Values []float64   // NaN: no bar
}

// barChart draws grouped bars over categories.
func barChart(title, yLabel string, categories []string, groups []barGroup) chart {
	ch := chart{Title: title}
	p := newPlot("", yLabel)
	// Bars get most of each category's slot, split among the groups.
	slot := (plotWidth - vg.Inch) / vg.Length(max(len(categories), 1))
	width := min(slot*0.7/vg.Length(max(len(groups), 1)), vg.Points(40))
	top := 0.0
	for i, g := range groups {
		vs := make(plotter.Values, len(g.Values))
		for j, v := range g.Values {
			if !math.IsNaN(v) {
				vs[j] = v
				top = max(top, v)
			}
		}
		b, err := plotter.NewBarChart(vs, width)
		if err != nil {
			ch.Err = err.Error()
			return ch
		}
		col := g.Color
		if col == nil {
			col = palette(i)
		}
		b.Color = col
		b.LineStyle.Width = 0
		b.Offset = width * (vg.Length(i) - vg.Length(len(groups)-1)/2)
		p.Add(b)
		if len(groups) > 1 || g.Label != "" {
			ch.Legend = append(ch.Legend, legendEntry{Label: g.Label, Color: css(col), Shape: "area"})
		}
	}
	if top == 0 {
		ch.Err = "no data"
		return ch
	}
	p.NominalX(categories...)
	// Room above the tallest bar, and half a slot beside the outer ones.
	p.Y.Min, p.Y.Max = 0, top*1.1
	p.X.Min, p.X.Max = -0.5, float64(len(categories))-0.5
	draws(&ch, p)
	return ch
}
