package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/history"
	"github.com/quorumlab/quorumlab/target"
)

// ReportFile is the HTML report in a run directory.
const ReportFile = "report.html"

// testInfo is what the report, comparisons and the store index read from a
// run's test.json. Unknown fields are ignored, so it survives additions.
type testInfo struct {
	Test    string    `json:"test"`
	Backend string    `json:"backend"`
	Started time.Time `json:"started"`
	Cluster struct {
		Target         string
		Nodes, N, W, R int
		Mode           string
		Sloppy         bool
	} `json:"cluster"`
	EtcdSerializable bool `json:"etcd_serializable"`
	Workload         struct {
		Name        string
		Concurrency int
		TimeLimit   string `json:"time_limit"` // as test.json writes durations: "1m0s"
		Seed        uint64
		Rate        float64
	} `json:"workload"`
	Nemesis struct{ Faults []string } `json:"nemesis"`
	// Command is the command line as the user typed it.
	Command []string `json:"command"`
}

// Quorum describes the replication settings, e.g. "N3 W2 R2 lww".
func (t testInfo) Quorum() string {
	c := t.Cluster
	if c.Target == target.Etcd {
		return etcdLabel(t.EtcdSerializable)
	}
	if c.N == 0 {
		return ""
	}
	s := fmt.Sprintf("N%d W%d R%d %s", c.N, c.W, c.R, c.Mode)
	if c.Sloppy {
		s += " sloppy"
	}
	return s
}

// readTest reads dir/test.json; a missing file is no error (a history
// checked outside the store has none).
func readTest(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, TestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

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

type verdictRow struct {
	Check   string
	Verdict checker.Verdict
	Detail  string
}

type latencyRow struct {
	checker.LatencySummary
	File string
}

type failingKey struct{ Key, File string }

type keyValue struct{ Key, Value string }

// registerCheck names the register check a run made.
func registerCheck(l *checker.Linearizability) string {
	if l.Model != "" {
		return l.Model + " register"
	}
	return "linearizable"
}

// convergenceDetail says in one line what the replica comparison found.
func convergenceDetail(c *checker.Convergence) string {
	d := fmt.Sprintf("%d keys compared on every home replica, %d diverged, after waiting %.1f s", c.Keys, c.DivergedCount, c.Waited)
	if c.RangeGroups > 0 {
		d += fmt.Sprintf("; Merkle roots of %d range groups compared, %d diverged", c.RangeGroups, c.RangesDivergedCount)
	}
	if len(c.Hints) > 0 {
		var nodes []string
		for _, n := range slices.Sorted(maps.Keys(c.Hints)) {
			nodes = append(nodes, fmt.Sprintf("%s %d", n, c.Hints[n]))
		}
		d += "; undelivered hints: " + strings.Join(nodes, ", ")
	}
	if c.HintsStored+c.HintsDelivered > 0 {
		d += fmt.Sprintf("; hints stored %d, delivered %d", c.HintsStored, c.HintsDelivered)
	}
	if c.Note != "" {
		d += "; " + c.Note
	}
	return d
}

func verdictRows(res checker.Results) []verdictRow {
	var out []verdictRow
	if l := res.Linearizable; l != nil {
		// One phrase per kind of anomaly: a run can have one on every key.
		var kinds []string
		keys := map[string][]string{}
		for _, a := range l.Anomalies {
			if keys[a.Kind] == nil {
				kinds = append(kinds, a.Kind)
			}
			keys[a.Kind] = append(keys[a.Kind], a.Key)
		}
		var parts []string
		for _, k := range kinds {
			ks := keys[k]
			list := strings.Join(ks[:min(len(ks), 10)], ", ")
			if len(ks) > 10 {
				list += fmt.Sprintf(" and %d more", len(ks)-10)
			}
			noun := "key"
			if len(ks) > 1 {
				noun = "keys"
			}
			parts = append(parts, fmt.Sprintf("%s on %d %s: %s", k, len(ks), noun, list))
		}
		if l.Error != "" {
			parts = append(parts, l.Error)
		}
		out = append(out, verdictRow{registerCheck(l), l.Verdict, strings.Join(parts, "; ")})
	}
	if s := res.Set; s != nil {
		d := fmt.Sprintf("acknowledged %d, lost %d, recovered %d, unexpected %d", s.Acknowledged, s.Lost, s.Recovered, s.Unexpected) + deletions(s)
		if s.Error != "" {
			d += "; " + s.Error
		}
		out = append(out, verdictRow{"set", s.Verdict, d})
	}
	if c := res.Convergence; c != nil {
		out = append(out, verdictRow{"convergence", c.Verdict, convergenceDetail(c)})
	}
	if s := res.Staleness; s != nil {
		d := fmt.Sprintf("%d of %d reads stale (%s)", s.Stale, s.Reads, pct(s.StaleShare))
		if s.Error != "" {
			d += "; " + s.Error
		}
		// A measurement, not a check: no verdict unless it failed to run.
		v := checker.Verdict("")
		if s.Verdict != checker.Valid {
			v = s.Verdict
		}
		out = append(out, verdictRow{"staleness", v, d})
	}
	return out
}

// linearFile and hgrmFile name the files Write stores next to the report.
func linearFile(key string) string { return "linear-" + safeName(key) + ".html" }

func hgrmFile(f string, outcome history.Type) string {
	return fmt.Sprintf("latency-%s-%s.hgrm", safeName(f), outcome)
}

// flattenJSON lists the leaves of a JSON object as dotted keys, in the
// order they appear. Durations (nanosecond integers under a time-like key)
// are shown as durations and tokens are masked.
func flattenJSON(b []byte) ([]keyValue, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []keyValue
	var walk func(prefix string) error
	walk = func(prefix string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				for dec.More() {
					k, err := dec.Token()
					if err != nil {
						return err
					}
					name := fmt.Sprint(k)
					if prefix != "" {
						name = prefix + "." + name
					}
					if err := walk(name); err != nil {
						return err
					}
				}
			case '[':
				var items []string
				for dec.More() {
					var v any
					if err := dec.Decode(&v); err != nil {
						return err
					}
					items = append(items, fmt.Sprint(v))
				}
				out = append(out, keyValue{prefix, strings.Join(items, ", ")})
			}
			_, err := dec.Token() // the closing delimiter
			return err
		case json.Number:
			out = append(out, keyValue{prefix, formatNumber(prefix, t)})
		case nil:
			out = append(out, keyValue{prefix, "null"})
		default:
			v := fmt.Sprint(t)
			if strings.Contains(strings.ToLower(prefix), "token") && v != "" {
				v = "(set)"
			}
			out = append(out, keyValue{prefix, v})
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	return out, nil
}

func formatNumber(key string, n json.Number) string {
	k := strings.ToLower(key[strings.LastIndex(key, ".")+1:])
	for _, hint := range []string{"timeout", "limit", "interval", "recovery", "skew", "pause", "warmup", "duration"} {
		if strings.Contains(k, hint) {
			if ns, err := strconv.ParseInt(string(n), 10, 64); err == nil {
				return time.Duration(ns).String()
			}
		}
	}
	return string(n)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
