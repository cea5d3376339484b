package results

import (
	"image/color"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

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
