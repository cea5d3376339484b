package results

import (
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"github.com/quorumlab/quorumlab/checker"
)

// RunSummary is one run for machines: what `run --json` prints and what a
// JUnit report is made of.
type RunSummary struct {
	Test        string          `json:"test"`
	Dir         string          `json:"dir,omitempty"`
	Seed        uint64          `json:"seed"`
	Verdict     checker.Verdict `json:"verdict"`
	ExitCode    int             `json:"exit_code"`
	Interrupted bool            `json:"interrupted,omitempty"`
	// Error is set when the harness itself failed.
	Error      string         `json:"error,omitempty"`
	DurationS  float64        `json:"duration_s"`
	Checks     []CheckSummary `json:"checks"`
	Warnings   []string       `json:"warnings,omitempty"`
	Throughput float64        `json:"throughput_ok_per_s"`
	// Stats are the counts of client operations.
	Invoked int `json:"invoked"`
	OK      int `json:"ok"`
	Fail    int `json:"fail"`
	Info    int `json:"info"`
}

// CheckSummary is one checker's outcome. Verdict is empty for a
// measurement (staleness), which has figures but no verdict.
type CheckSummary struct {
	Name    string          `json:"name"`
	Verdict checker.Verdict `json:"verdict,omitempty"`
	Detail  string          `json:"detail"`
	// Explanation says why a check is not valid: the witnesses in words,
	// or why it could not decide.
	Explanation string `json:"explanation,omitempty"`
}

// Summarize makes the RunSummary of a run; runErr is the harness's error.
func Summarize(test, dir string, seed uint64, res checker.Results, runErr error, interrupted bool, took time.Duration) RunSummary {
	s := RunSummary{
		Test: test, Dir: dir, Seed: seed, Verdict: res.Verdict, Interrupted: interrupted,
		DurationS: took.Seconds(), Warnings: res.Warnings, Throughput: res.Latency.Throughput,
		Invoked: res.Stats.Total.Invoked, OK: res.Stats.Total.OK, Fail: res.Stats.Total.Fail, Info: res.Stats.Total.Info,
	}
	if runErr != nil {
		s.Error = runErr.Error()
	}
	switch {
	case runErr != nil && res.Verdict == "":
		s.Verdict, s.ExitCode = checker.Unknown, checker.ExitHarness
	case runErr != nil || interrupted:
		s.ExitCode = checker.ExitHarness
	default:
		s.ExitCode = res.Verdict.ExitCode()
	}
	if res.Error != "" {
		s.Checks = append(s.Checks, CheckSummary{Name: "history", Verdict: checker.Unknown, Detail: res.Error, Explanation: res.Error})
	}
	for _, row := range verdictRows(res) {
		c := CheckSummary{Name: row.Check, Verdict: row.Verdict, Detail: row.Detail}
		switch row.Check {
		case "linearizable", "single-writer register":
			c.Explanation = explainLinearizable(res.Linearizable)
		case "set":
			if res.Set != nil && res.Set.Verdict != checker.Valid {
				c.Explanation = row.Detail
			}
		case "convergence":
			if cv := res.Convergence; cv.Verdict != checker.Valid {
				c.Explanation = row.Detail
				for _, d := range cv.Diverged {
					c.Explanation += "\n" + d.Text
				}
			}
		}
		s.Checks = append(s.Checks, c)
	}
	return s
}

func explainLinearizable(l *checker.Linearizability) string {
	if l == nil || l.Verdict == checker.Valid {
		return ""
	}
	var lines []string
	for _, w := range l.Witnesses {
		lines = append(lines, fmt.Sprintf("%s on key %s: %s", w.Kind, w.Key, w.Text))
	}
	for k, why := range l.Unknown {
		lines = append(lines, fmt.Sprintf("key %s unknown: %s", k, why))
	}
	if l.Error != "" {
		lines = append(lines, l.Error)
	}
	return strings.Join(lines, "\n")
}

// JUnit renders runs as JUnit XML: a test suite per run, a test case per
// check. Invalid is a failure, unknown an error (the check could not
// decide), a harness failure an error of a "harness" case.
func JUnit(runs []RunSummary) ([]byte, error) {
	type failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		Error     *failure `xml:"error,omitempty"`
		SystemOut string   `xml:"system-out,omitempty"`
	}
	type testsuite struct {
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Errors   int        `xml:"errors,attr"`
		Skipped  int        `xml:"skipped,attr"`
		Time     string     `xml:"time,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	type testsuites struct {
		XMLName  xml.Name    `xml:"testsuites"`
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Time     string      `xml:"time,attr"`
		Suites   []testsuite `xml:"testsuite"`
	}
	secs := func(s float64) string { return fmt.Sprintf("%.3f", s) }
	out := testsuites{Name: "quorumlab"}
	var total float64
	for _, r := range runs {
		suite := testsuite{Name: fmt.Sprintf("%s seed %d", r.Test, r.Seed), Time: secs(r.DurationS)}
		class := "quorumlab." + r.Test
		add := func(tc testcase) {
			suite.Cases = append(suite.Cases, tc)
			suite.Tests++
			if tc.Failure != nil {
				suite.Failures++
			}
			if tc.Error != nil {
				suite.Errors++
			}
		}
		if r.Error != "" || r.Interrupted {
			msg := r.Error
			if r.Interrupted {
				msg = strings.TrimSpace("interrupted " + msg)
			}
			add(testcase{Name: "harness", Classname: class, Time: secs(r.DurationS), Error: &failure{Message: msg, Type: "harness", Text: msg}})
		}
		for _, c := range r.Checks {
			tc := testcase{Name: c.Name, Classname: class, Time: "0", SystemOut: c.Detail}
			switch c.Verdict {
			case checker.Invalid:
				tc.Failure = &failure{Message: c.Detail, Type: string(c.Verdict), Text: c.Explanation}
			case checker.Unknown:
				tc.Error = &failure{Message: c.Detail, Type: string(c.Verdict), Text: c.Explanation}
			}
			add(tc)
		}
		out.Tests += suite.Tests
		out.Failures += suite.Failures
		out.Errors += suite.Errors
		total += r.DurationS
		out.Suites = append(out.Suites, suite)
	}
	out.Time = secs(total)
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("junit: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}
