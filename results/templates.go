package results

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/quorumlab/quorumlab/checker"
)

// The pages' templates live in templates/. Every page shares the styles;
// the comparison and the store index also use the report's helpers and its
// "chart" part, so they start as clones of the report.
var (
	reportTemplate  = parse(template.New("report").Funcs(funcs), "styles.css.tmpl", "report.html.tmpl")
	compareTemplate = parse(template.Must(reportTemplate.Clone()).New("compare"), "compare.html.tmpl")
	indexTemplate   = parse(template.Must(reportTemplate.Clone()).New("index"), "index.html.tmpl")
	listingTemplate = parse(template.New("listing"), "styles.css.tmpl", "listing.html.tmpl")
)

//go:embed templates/*.tmpl
var templateFiles embed.FS

// parse parses the named files of templates/ into t, in order. A file of
// definitions only leaves t's body as it was.
func parse(t *template.Template, files ...string) *template.Template {
	for _, name := range files {
		b, err := templateFiles.ReadFile("templates/" + name)
		if err != nil {
			panic(err)
		}
		t = template.Must(t.Parse(string(b)))
	}
	return t
}

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

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
