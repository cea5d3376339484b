package results

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strings"

	"github.com/quorumlab/quorumlab/checker"
)

// compareCell is one cell of the comparison table, as text.
type compareCell struct {
	Text    string
	Verdict checker.Verdict // set for verdict cells, which are coloured
}

// compareTable is the comparison table, shared by the Markdown and HTML.
func compareTable(c Comparison) (head []string, rows [][]compareCell) {
	head = []string{"config", "verdict", "ok ops/s", "read p50", "read p99", "read p99.9", "write p50", "write p99", "write p99.9",
		"ok under faults", "linearizable", "lost writes", "stale reads"}
	for _, t := range visibilityTimes() {
		head = append(head, fmt.Sprintf("P(fresh) %d ms", t))
	}
	head = append(head, "predicted P(fresh) 0 ms")
	dash := compareCell{Text: "—"}
	lat := func(f *LatencyFigure, v func(*LatencyFigure) float64) compareCell {
		if f == nil {
			return dash
		}
		return compareCell{Text: fmt.Sprintf("%.2f", v(f))}
	}
	for _, r := range c.Rows {
		if r.Error != "" {
			row := []compareCell{{Text: r.Label()}, {Text: "harness failed: " + r.Error}}
			for len(row) < len(head) {
				row = append(row, dash)
			}
			rows = append(rows, row)
			continue
		}
		row := []compareCell{
			{Text: r.Label()}, {Text: strings.ToUpper(string(r.Verdict)), Verdict: r.Verdict},
			{Text: fmt.Sprintf("%.0f", r.Throughput)},
			lat(r.Read, func(f *LatencyFigure) float64 { return f.P50 }),
			lat(r.Read, func(f *LatencyFigure) float64 { return f.P99 }),
			lat(r.Read, func(f *LatencyFigure) float64 { return f.P999 }),
			lat(r.Write, func(f *LatencyFigure) float64 { return f.P50 }),
			lat(r.Write, func(f *LatencyFigure) float64 { return f.P99 }),
			lat(r.Write, func(f *LatencyFigure) float64 { return f.P999 }),
		}
		if r.FaultAvailability != nil {
			row = append(row, compareCell{Text: pct(*r.FaultAvailability)})
		} else {
			row = append(row, dash)
		}
		if r.Linearizable != "" {
			row = append(row, compareCell{Text: strings.ToUpper(string(r.Linearizable)), Verdict: r.Linearizable})
		} else {
			row = append(row, dash)
		}
		if r.LostWrites != nil {
			row = append(row, compareCell{Text: fmt.Sprint(*r.LostWrites)})
		} else {
			row = append(row, dash)
		}
		if r.StaleShare != nil {
			row = append(row, compareCell{Text: pct(*r.StaleShare)})
		} else {
			row = append(row, dash)
		}
		for _, t := range visibilityTimes() {
			row = append(row, compareCell{Text: r.visibilityAt(t)})
		}
		row = append(row, compareCell{Text: r.predictedAt(0)})
		rows = append(rows, row)
	}
	return head, rows
}

// CompareMarkdown renders the comparison as a Markdown table.
func CompareMarkdown(c Comparison) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# quorumlab comparison, %s\n\nWorkload %s; faults: %s. Latencies in ms (ok operations); P(fresh) t ms is the t-visibility: the share of reads begun t ms after a write completed that saw it.\n\n",
		c.Started.UTC().Format("2006-01-02 15:04:05 UTC"), c.Workload, c.Nemesis)
	head, rows := compareTable(c)
	b.WriteString("| " + strings.Join(head, " | ") + " | run |\n|")
	for range len(head) + 1 {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for i, row := range rows {
		var cells []string
		for _, cell := range row {
			cells = append(cells, strings.ReplaceAll(cell.Text, "|", `\|`))
		}
		run := "—"
		if r := c.Rows[i].Run; r != "" {
			run = fmt.Sprintf("[report](%s)", filepath.ToSlash(filepath.Join(r, ReportFile)))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " | " + run + " |\n")
	}
	if len(c.Skipped) > 0 {
		b.WriteString("\nNot run:\n\n")
		for _, s := range c.Skipped {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	return b.String()
}

// renderComparison renders compare.html: the table, throughput and p99 per
// configuration, and every configuration's t-visibility curve on one chart.
func renderComparison(c Comparison) ([]byte, error) {
	head, cells := compareTable(c)
	d := compareData{C: c, Columns: len(head) - 1, Times: visibilityTimes()}
	for i, r := range c.Rows {
		row := compareHTMLRow{Label: r.Label(), Error: r.Error, Cells: cells[i][1:]}
		if r.Run != "" {
			row.Link = filepath.ToSlash(filepath.Join(r.Run, ReportFile))
		}
		d.Rows = append(d.Rows, row)
	}
	var labels []string
	var tput []float64
	// Light p50 beside dark p99, blue for reads, orange for writes.
	lat := []barGroup{
		{Label: "read p50", Color: color.NRGBA{0x9e, 0xc6, 0xe8, 0xff}},
		{Label: "read p99", Color: color.NRGBA{0x1f, 0x5f, 0xa8, 0xff}},
		{Label: "write p50", Color: color.NRGBA{0xf7, 0xc0, 0x8a, 0xff}},
		{Label: "write p99", Color: color.NRGBA{0xd9, 0x6c, 0x06, 0xff}},
	}
	var vis []visibilitySeries
	for _, r := range c.Rows {
		if r.Error != "" {
			continue
		}
		labels = append(labels, r.Label())
		tput = append(tput, r.Throughput)
		for i, v := range []float64{p(r.Read, 50), p(r.Read, 99), p(r.Write, 50), p(r.Write, 99)} {
			lat[i].Values = append(lat[i].Values, v)
		}
		if len(r.Visibility) > 0 {
			vis = append(vis, visibilitySeries{r.Label(), r.Visibility})
			if len(r.Predicted) > 0 {
				var pts []checker.VisibilityPoint
				for _, p := range r.Predicted {
					pts = append(pts, checker.VisibilityPoint{AfterMs: p.AfterMs, Reads: p.Reads, FreshShare: p.Predicted})
				}
				vis = append(vis, visibilitySeries{r.Label() + " predicted", pts})
			}
		}
	}
	if len(labels) > 0 {
		d.Charts = append(d.Charts,
			barChart("throughput per configuration", "ok operations/s", labels, []barGroup{{Values: tput}}),
			barChart("latency per configuration (ok operations, ms)", "ms", labels, lat))
	}
	if len(vis) > 0 {
		d.Charts = append(d.Charts, visibilityChart("t-visibility per configuration: does a read see the latest completed write?", vis))
	}
	var buf bytes.Buffer
	if err := compareTemplate.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render comparison: %w", err)
	}
	return buf.Bytes(), nil
}

// p returns a latency quantile (50 or 99), NaN if there is none.
func p(f *LatencyFigure, q int) float64 {
	switch {
	case f == nil:
		return math.NaN()
	case q == 50:
		return f.P50
	}
	return f.P99
}

type compareData struct {
	C       Comparison
	Columns int
	Times   []int
	Rows    []compareHTMLRow
	Charts  []chart
}

type compareHTMLRow struct {
	Label, Link, Error string
	Cells              []compareCell // after the label
}
