package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
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

// funcs are the template helpers shared by the report, the comparison and
// the store index.
var funcs = template.FuncMap{
	"pct": pct,
	"ms": func(x float64) string {
		switch {
		case x >= 100:
			return fmt.Sprintf("%.0f", x)
		case x >= 10:
			return fmt.Sprintf("%.1f", x)
		}
		return fmt.Sprintf("%.2f", x)
	},
	"secs": func(ns int64) string { return fmt.Sprintf("%.1f", float64(ns)/1e9) },
	"upper": func(v checker.Verdict) string {
		if v == "" {
			return "—"
		}
		return strings.ToUpper(string(v))
	},
	"rate": func(x float64) string { return fmt.Sprintf("%.0f", x) },
	"mul3": func(x float64) float64 { return 3 * x },
	"raw":  func(b json.RawMessage) string { return string(b) },
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"join":  func(xs []string) string { return strings.Join(xs, ",") },
	"words": func(xs []string) string { return strings.Join(xs, " ") },
}

// styles are the CSS shared by every page.
const styles = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",Arial,sans-serif;color:#1d2330;margin:0;background:#f4f5f7}
main{max-width:1180px;margin:0 auto;padding:20px 28px 60px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:17px;margin:30px 0 10px;border-bottom:1px solid #d8dbe2;padding-bottom:4px}
h3{font-size:14px;margin:18px 0 4px}
.sub{color:#5a6272;margin:0 0 14px}
table{border-collapse:collapse;background:#fff;margin:6px 0 10px;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;border:1px solid #e0e3e9;text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600}
td.n,th.n{text-align:right}
.verdict{display:inline-block;padding:2px 9px;border-radius:4px;font-weight:700;font-size:12px;letter-spacing:.03em;color:#fff}
.verdict.big{font-size:20px;padding:4px 16px;margin:6px 0}
.v-valid{background:#2e8540}.v-invalid{background:#c62828}.v-unknown{background:#d98c00}.v-{background:#8a8f98}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{background:#fff;border:1px solid #e0e3e9;border-radius:6px;padding:8px 14px;min-width:130px}
.card b{display:block;font-size:19px}.card span{color:#5a6272;font-size:12px}
figure{background:#fff;border:1px solid #e0e3e9;border-radius:6px;margin:14px 0;padding:10px 12px}
figcaption{font-weight:600}
figure svg{display:block;width:100%;height:auto}
.note{color:#5a6272;font-size:12px;font-weight:400}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;margin:4px 0 2px}
.legend i{display:inline-block;vertical-align:middle;margin-right:5px}
.legend i.dot{width:9px;height:9px;border-radius:50%}
.legend i.line{width:22px;height:3px}
.legend i.dash{width:22px;height:0;border-top:3px dashed}
.legend i.area{width:16px;height:11px;border:1px solid #bbb}
.err{color:#c62828}
a{color:#1f5fa8}
code{font-size:12px}
`

var reportTemplate = template.Must(template.New("report").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>quorumlab {{with .Info.Test}}{{.}}{{else}}run{{end}}: {{upper .Res.Verdict}}</title>
<style>` + styles + `</style></head>
<body><main>
<h1>{{with .Info.Test}}{{.}}{{else}}run{{end}} {{with .Info.Quorum}}· {{.}}{{end}}</h1>
<p class="sub">{{with .Info.Workload.Name}}workload {{.}} · {{end}}{{with .FaultKinds}}faults {{join .}}{{else}}no faults{{end}}{{if not .Info.Started.IsZero}} · started {{time .Info.Started}}{{end}}{{if .Span}} · {{printf "%.1f" .Span}} s of history{{end}}</p>
<div class="verdict big v-{{.Res.Verdict}}">{{upper .Res.Verdict}}</div>
{{with .Res.Error}}<p class="err">{{.}}</p>{{end}}
{{if .Res.Interrupted}}<p class="err">Interrupted: the run was stopped early; these results cover what was recorded until then.</p>{{end}}
{{range .Res.Warnings}}<p class="err">Warning: {{.}}</p>{{end}}

<div class="cards">
<div class="card"><b>{{rate .Res.Latency.Throughput}}</b><span>ok ops/s</span></div>
<div class="card"><b>{{.Res.Stats.Total.Invoked}}</b><span>operations</span></div>
<div class="card"><b>{{.Res.Stats.Total.OK}} / {{.Res.Stats.Total.Fail}} / {{.Res.Stats.Total.Info}}</b><span>ok / fail / info</span></div>
<div class="card"><b>{{pct .Res.Availability.Healthy.Share}}</b><span>ok while healthy</span></div>
<div class="card"><b>{{if .Faults}}{{pct .Res.Availability.Faulty.Share}}{{else}}—{{end}}</b><span>ok under faults</span></div>
{{with .Res.Staleness}}<div class="card"><b>{{pct .StaleShare}}</b><span>stale reads</span></div>{{end}}
{{with .Res.Set}}<div class="card"><b>{{.Lost}}</b><span>lost adds</span></div>{{end}}
</div>

{{if .Verdicts}}<h2>Verdicts</h2>
<table><tr><th>check</th><th>verdict</th><th>detail</th></tr>
{{range .Verdicts}}<tr><td>{{.Check}}</td><td>{{if .Verdict}}<span class="verdict v-{{.Verdict}}">{{upper .Verdict}}</span>{{else}}<span class="note">measured</span>{{end}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>{{end}}
{{with .Res.Linearizable}}<p>Keys: {{index $.KeyCounts "valid"}} valid, {{index $.KeyCounts "invalid"}} invalid, {{index $.KeyCounts "unknown"}} unknown.
{{if $.Failing}}Porcupine's view of each failing key:
{{range $.Failing}}<a href="{{.File}}">{{.Key}}</a> {{end}}{{end}}</p>
{{if .Anomalies}}<table><tr><th>key</th><th>anomaly</th><th class="n">ops</th><th>history indexes (start reading here)</th></tr>
{{range .Anomalies}}<tr><td>{{.Key}}</td><td>{{.Kind}}</td><td class="n">{{.Count}}</td><td><code>{{range .Ops}}{{.}} {{end}}</code></td></tr>
{{end}}</table>{{end}}
{{end}}

<h2>Plots</h2>
{{with .PlotError}}<p class="err">{{.}}</p>{{end}}
{{range .Charts}}{{template "chart" .}}{{end}}
{{with .Visibility}}{{template "chart" .}}{{end}}

{{with .Res.Linearizable}}{{with .Witnesses}}<h2>Why: the first witnesses</h2>
<table><tr><th>key</th><th>kind</th><th>in words</th></tr>
{{range .}}<tr><td>{{.Key}}</td><td>{{.Kind}}</td><td>{{.Text}}</td></tr>
{{end}}</table>{{end}}
{{if or .Unknown .NoVisualization}}<table><tr><th>key</th><th>note</th></tr>
{{range $k, $v := .Unknown}}<tr><td>{{$k}}</td><td>unknown: {{$v}}</td></tr>
{{end}}{{range $k, $v := .NoVisualization}}<tr><td>{{$k}}</td><td>{{$v}}</td></tr>
{{end}}</table>{{end}}
<p class="sub">Checked in {{printf "%.1f" .ElapsedMs}} ms{{with .PeakMemoryMiB}}, at most {{.}} MiB in use{{end}}. Patched before the search:
{{.Patched.UnobservedInfoWrites}} indeterminate writes never observed (dropped), {{.Patched.ObservedInfoWrites}} observed (returned at their first read),
{{.Patched.FailedWrites}} failed writes and {{.Patched.UninformativeReads}} failed or indeterminate reads dropped.</p>{{end}}
<h2>Latency</h2>
{{if .Res.Latency.Corrected}}<p>Open loop: latencies are corrected for coordinated omission, measured from each operation's intended start.</p>{{end}}
{{with .Res.Latency.Excluded}}<p>{{.}} operations before the measured window (load phase, warmup) are left out of the figures.</p>{{end}}
{{template "latency" .Latency}}
{{with .Uncorrected}}<h3>Uncorrected: measured from the actual send</h3>{{template "latency" .}}{{end}}
{{with .Res.Latency.Error}}<p class="err">{{.}}</p>{{end}}

<h2>Operations</h2>
<table><tr><th>op</th><th class="n">invoked</th><th class="n">ok</th><th class="n">fail</th><th class="n">info</th><th class="n">never completed</th></tr>
{{range .Res.Stats.Ops}}<tr><td>{{.F}}</td><td class="n">{{.Invoked}}</td><td class="n">{{.OK}}</td><td class="n">{{.Fail}}</td><td class="n">{{.Info}}</td><td class="n">{{.Incomplete}}</td></tr>
{{end}}{{with .Res.Stats.Total}}<tr><th>all</th><th class="n">{{.Invoked}}</th><th class="n">{{.OK}}</th><th class="n">{{.Fail}}</th><th class="n">{{.Info}}</th><th class="n">{{.Incomplete}}</th></tr>{{end}}
</table>
<table><tr><th></th><th class="n">ok</th><th class="n">fail</th><th class="n">info</th><th class="n">ok share</th></tr>
{{with .Res.Availability}}<tr><td>while healthy</td><td class="n">{{.Healthy.OK}}</td><td class="n">{{.Healthy.Fail}}</td><td class="n">{{.Healthy.Info}}</td><td class="n">{{pct .Healthy.Share}}</td></tr>
<tr><td>under faults</td><td class="n">{{.Faulty.OK}}</td><td class="n">{{.Faulty.Fail}}</td><td class="n">{{.Faulty.Info}}</td><td class="n">{{pct .Faulty.Share}}</td></tr>{{end}}
</table>

<h2>Faults</h2>
{{if .Faults}}<table><tr><th>kind</th><th class="n">from s</th><th class="n">to s</th><th>description</th></tr>
{{range $i, $f := .Faults}}<tr><td>{{$f.Kind}}</td><td class="n">{{secs $f.Start}}</td><td class="n">{{secs $f.End}}</td><td title="{{raw $f.Value}}">{{index $.FaultText $i}}</td></tr>
{{end}}</table>{{else}}<p>No faults were injected.</p>{{end}}
<p>{{.Res.Stats.NemesisEvents}} nemesis events in the history.</p>

{{with .Res.Staleness}}<h2>Stale reads</h2>
<p>{{.Stale}} of {{.Reads}} ok reads returned a value already overwritten by a completed write; at most {{.MaxVersionsBehind}} versions behind, at most {{ms .MaxLagMs}} ms after the newer write completed.</p>
<table><tr><th class="n">t ms</th>{{range .Visibility}}<td class="n">{{.AfterMs}}</td>{{end}}</tr>
<tr><th class="n">P(fresh)</th>{{range .Visibility}}<td class="n">{{if .Reads}}{{printf "%.4f" .FreshShare}}{{else}}—{{end}}</td>{{end}}</tr>
<tr><th class="n">reads</th>{{range .Visibility}}<td class="n">{{.Reads}}</td>{{end}}</tr></table>
{{with $.Prediction}}<h3>Predicted by PBS (WARS) from this run's replica latencies</h3>
<p>{{.Summary}}. Predicted 99.9 % t-visibility: {{printf "%.2f" .TVisibility}} ms ({{.Trials}} trials). Each read is predicted as one begun its delay after the write committed; the delay is measured from the client's completion, a little after the commit, so the prediction leans stale.</p>
<table><tr><th class="n">t ms</th><th class="n">reads</th><th class="n">measured</th><th class="n">predicted</th><th class="n">± 3σ</th><th></th></tr>
{{range .Points}}<tr><td class="n">{{.AfterMs}}</td><td class="n">{{.Reads}}</td><td class="n">{{printf "%.4f" .Measured}}</td><td class="n">{{printf "%.4f" .Predicted}}</td><td class="n">{{printf "%.4f" (mul3 .StdErr)}}</td><td>{{if .Differs}}differs{{else}}agrees{{end}}</td></tr>
{{end}}</table>{{end}}
{{if $.StaleExamples}}<h3>First stale reads</h3>
<table><tr><th>key</th><th class="n">history index</th><th class="n">versions behind</th><th class="n">lag ms</th></tr>
{{range $.StaleExamples}}<tr><td>{{.Key}}</td><td class="n">{{.Op}}</td><td class="n">{{.VersionsBehind}}</td><td class="n">{{ms .LagMs}}</td></tr>
{{end}}</table>{{end}}{{end}}

{{with .Res.Convergence}}{{with .Diverged}}<h2>Diverged replicas</h2>
<p>After the final heal and recovery these keys' home replicas, each read directly, still hold different versions: a replica missed a write that quorum reads outvoted.</p>
<table><tr><th>key</th><th>in words</th></tr>
{{range .}}<tr><td>{{.Key}}</td><td>{{.Text}}</td></tr>
{{end}}</table>{{end}}{{end}}

{{with .Res.Scaling}}<h2>Autoscaling</h2>
<p>{{.Adds}} nodes added and {{.Removes}} removed. Load is the mean of coordinated client requests/s per node, before each change and once every member of the new ring had a sample.</p>
<table><tr><th class="n">from s</th><th class="n">to s</th><th>change</th><th>why</th><th class="n">nodes before</th><th class="n">req/s per node before</th><th class="n">nodes after</th><th class="n">req/s per node after</th><th>result</th></tr>
{{range .Changes}}<tr><td class="n">{{printf "%.1f" .Start}}</td><td class="n">{{if .End}}{{printf "%.1f" .End}}{{else}}—{{end}}</td><td>{{.Action}} {{.Node}}</td><td>{{.Reason}}</td><td class="n">{{.NodesBefore}}</td><td class="n">{{printf "%.0f" .LoadBefore}}</td><td class="n">{{with .NodesAfter}}{{.}}{{else}}—{{end}}</td><td class="n">{{if .NodesAfter}}{{printf "%.0f" .LoadAfter}}{{else}}—{{end}}</td><td>{{if .OK}}done{{else if .Error}}<span class="err">failed: {{.Error}}</span>{{else}}unfinished{{end}}</td></tr>
{{end}}</table>{{end}}

{{with .Res.Set}}<h2>Set</h2>
<table><tr><th class="n">attempted</th><th class="n">acknowledged</th><th class="n">lost</th><th class="n">recovered</th><th class="n">unexpected</th></tr>
<tr><td class="n">{{.Attempted}}</td><td class="n">{{.Acknowledged}}</td><td class="n">{{.Lost}}</td><td class="n">{{.Recovered}}</td><td class="n">{{.Unexpected}}</td></tr></table>
{{if .LostExamples}}<p>Lost, e.g.: {{range .LostExamples}}<code>{{.Key}}:{{.Element}}</code> {{end}}</p>{{end}}
{{if .UnexpectedExamples}}<p>Unexpected, e.g.: {{range .UnexpectedExamples}}<code>{{.Key}}:{{.Element}}</code> {{end}}</p>{{end}}
{{if .ResurrectedExamples}}<p>Resurrected (deleted, then read again), e.g.: {{range .ResurrectedExamples}}<code>{{.Key}}:{{.Element}}</code> {{end}}</p>{{end}}{{end}}

{{with .ConfigError}}<h2>Test configuration</h2><p class="err">{{.}}</p>{{end}}
{{if .Config}}<h2>Test configuration</h2>
{{with .Info.Command}}<p>Started as <code>{{words .}}</code>; every setting it ran with:</p>{{end}}
<table>{{range .Config}}<tr><td><code>{{.Key}}</code></td><td>{{.Value}}</td></tr>
{{end}}</table>{{end}}
<p class="note">Files: <a href="results.json">results.json</a> · <a href="history.jsonl">history.jsonl</a> · <a href="test.json">test.json</a> · <a href="nodes/">node logs</a></p>
</main></body></html>
{{define "latency"}}<table><tr><th>op</th><th>outcome</th><th class="n">count</th><th class="n">mean ms</th><th class="n">p50 ms</th><th class="n">p90 ms</th><th class="n">p99 ms</th><th class="n">p99.9 ms</th><th class="n">p99.99 ms</th><th class="n">max ms</th><th>distribution</th></tr>
{{range .}}<tr><td>{{.F}}</td><td>{{.Outcome}}</td><td class="n">{{.Count}}</td><td class="n">{{ms .Mean}}</td><td class="n">{{ms .P50}}</td><td class="n">{{ms .P90}}</td><td class="n">{{ms .P99}}</td><td class="n">{{ms .P999}}</td><td class="n">{{ms .P9999}}</td><td class="n">{{ms .Max}}</td><td>{{with .File}}<a href="{{.}}">.hgrm</a>{{end}}</td></tr>
{{end}}</table>{{end}}
{{define "chart"}}<figure><figcaption>{{.Title}}{{with .Note}} <span class="note">{{.}}</span>{{end}}</figcaption>
{{if .Legend}}<div class="legend">{{range .Legend}}<span><i class="{{.Shape}}" style="{{if eq .Shape "dash"}}border-color:{{.Color}}{{else}}background:{{.Color}}{{end}}"></i>{{.Label}}</span>{{end}}</div>{{end}}
{{if .Err}}<p class="err">{{.Err}}</p>{{else}}{{.SVG}}{{end}}</figure>{{end}}
`))
