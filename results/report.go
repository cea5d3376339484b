package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/history"
)

// ReportFile is the HTML report in a run directory.
const ReportFile = "report.html"

// WriteReport writes dir/report.html for the run whose history is ops and
// whose results are res, taking the test settings from dir/test.json.
func WriteReport(dir string, ops []history.Op, res checker.Results) error {
	test, err := readTest(dir)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var pred *Prediction
	if p, err := ReadPrediction(dir); err == nil {
		pred = &p
	}
	html, err := renderReport(ops, res, test, pred)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ReportFile+".tmp")
	if err := os.WriteFile(tmp, html, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, ReportFile))
}

// renderReport renders the HTML report of one run from its history, its results
// and its test.json (nil if there is none). The page is self-contained: CSS
// and plots (SVG) are inline, links are relative to the run directory.
func renderReport(ops []history.Op, res checker.Results, test []byte, pred *Prediction) ([]byte, error) {
	d := reportData{Res: res, Faults: history.Faults(ops), Prediction: pred, KeyCounts: map[string]int{}}
	nodes := map[string]bool{}
	for _, op := range ops {
		if op.Node != "" {
			nodes[op.Node] = true
		}
	}
	for _, f := range d.Faults {
		d.FaultText = append(d.FaultText, describeFault(f.Value, slices.Sorted(maps.Keys(nodes))))
	}
	if len(test) > 0 {
		// A damaged test.json costs the report its settings, not the rest.
		var err error
		if d.Config, err = flattenJSON(test); err == nil {
			err = json.Unmarshal(test, &d.Info)
		}
		if err != nil {
			d.Info, d.Config, d.ConfigError = testInfo{}, nil, fmt.Sprintf("test.json: %v", err)
		}
	}
	d.FaultKinds = d.Info.Nemesis.Faults
	for _, f := range d.Faults {
		if len(d.Info.Nemesis.Faults) == 0 && !slices.Contains(d.FaultKinds, f.Kind) {
			d.FaultKinds = append(d.FaultKinds, f.Kind)
		}
	}
	d.Verdicts = verdictRows(res)
	for _, s := range res.Latency.Ops {
		d.Latency = append(d.Latency, latencyRow{s, hgrmFile(s.F, s.Outcome)})
	}
	for _, s := range res.Latency.Uncorrected {
		d.Uncorrected = append(d.Uncorrected, latencyRow{LatencySummary: s})
	}
	if l := res.Linearizable; l != nil {
		for _, k := range sortedKeys(l.Keys) {
			d.KeyCounts[string(checker.Combine(l.Keys[k]))]++
			if _, vis := l.Visualizations[k]; vis || (l.Visualizations == nil && l.Keys[k] == checker.Invalid) {
				d.Failing = append(d.Failing, failingKey{k, linearFile(k)})
			}
		}
	}
	if s := res.Staleness; s != nil {
		d.StaleExamples = s.StaleReads[:min(len(s.StaleReads), 20)]
	}

	ss, span, err := samples(ops)
	if err != nil {
		d.PlotError = fmt.Sprintf("no plots: %v", err)
	} else if len(ss) == 0 {
		d.PlotError = "no completed operations to plot"
	} else {
		d.Span = span
		// Shade what the latency figures leave out (a ycsb load phase, the
		// warmup) along with the faults.
		shade, from := d.Faults, 0.0
		if l := res.Latency; l.Excluded > 0 && l.Start > 0 {
			from = float64(l.Start) / 1e9
			shade = append([]history.Fault{{Kind: unmeasured, Start: 0, End: l.Start}}, shade...)
		}
		d.Charts = append(d.Charts, scatterCharts(ss, shade, span)...)
		if tl := timelineChart(d.Faults, slices.Sorted(maps.Keys(nodes)), span); tl != nil {
			d.Charts = append(d.Charts, *tl)
		}
		d.Charts = append(d.Charts, quantileChart(ss, shade, span), throughputChart(ss, shade, span))
		if nc := nodesChart(res.Scaling, shade, span); nc != nil {
			d.Charts = append(d.Charts, *nc)
		}
		d.Charts = append(d.Charts, cdfChart(ss, from))
	}
	if s := res.Staleness; s != nil && len(s.Visibility) > 0 {
		series := []visibilitySeries{{"reads", s.Visibility}}
		if pred != nil {
			var pts []checker.VisibilityPoint
			for _, p := range pred.Points {
				pts = append(pts, checker.VisibilityPoint{AfterMs: p.AfterMs, Reads: p.Reads, FreshShare: p.Predicted})
			}
			series = append(series, visibilitySeries{"predicted (WARS)", pts})
		}
		ch := visibilityChart("t-visibility: does a read see the latest completed write?", series)
		d.Visibility = &ch
	}

	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	return buf.Bytes(), nil
}

type reportData struct {
	Info          testInfo
	Config        []keyValue
	ConfigError   string
	Res           checker.Results
	Verdicts      []verdictRow
	Faults        []history.Fault
	FaultText     []string // per fault, what it did in words
	FaultKinds    []string // configured, else those in the history
	Latency       []latencyRow
	Uncorrected   []latencyRow
	KeyCounts     map[string]int // keys per verdict, unrecognised ones counted as unknown
	Failing       []failingKey
	StaleExamples []checker.StaleRead
	Span          float64
	Charts        []chart
	Visibility    *chart
	Prediction    *Prediction
	PlotError     string
}

type latencyRow struct {
	checker.LatencySummary
	File string
}

type failingKey struct{ Key, File string }

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
