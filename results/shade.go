package results

import (
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/quorumlab/quorumlab/history"
)

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
