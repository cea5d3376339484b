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

	"github.com/quorumlab/quorumlab/history"
)

// Plot sizes, in points; CSS scales the SVGs to the page width.
const (
	plotWidth  = 10 * vg.Inch
	plotHeight = 3.4 * vg.Inch
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

// outcomeColor colours an operation by its outcome; info is anything not
// ok or fail.
func outcomeColor(t history.Type) color.NRGBA {
	switch t {
	case history.OK:
		return color.NRGBA{0x2b, 0x6c, 0xb0, 0xa0}
	case history.Fail:
		return color.NRGBA{0xd6, 0x27, 0x28, 0xff}
	}
	return color.NRGBA{0xf0, 0x8c, 0x00, 0xff}
}

func css(c color.Color) template.CSS {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	if n.A == 0xff {
		return template.CSS(fmt.Sprintf("#%02x%02x%02x", n.R, n.G, n.B))
	}
	return template.CSS(fmt.Sprintf("rgba(%d,%d,%d,%.2f)", n.R, n.G, n.B, float64(n.A)/255))
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
