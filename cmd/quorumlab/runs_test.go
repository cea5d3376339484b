package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/harness"
)

// fakeRuns stands in for harness.Run: run i (by seed) gets verdicts[i].
func fakeRuns(verdicts []checker.Verdict, seeds *[]uint64) runFunc {
	return func(_ context.Context, c harness.Config) (harness.Outcome, error) {
		*seeds = append(*seeds, c.Workload.Seed)
		v := verdicts[c.Workload.Seed-1]
		if v == "" {
			return harness.Outcome{}, errors.New("cluster would not start")
		}
		res := checker.Results{Verdict: v, Linearizable: &checker.Linearizability{Verdict: v}}
		if v == checker.Invalid {
			res.Linearizable.Anomalies = []checker.Anomaly{{Key: "k", Kind: checker.RealTimeStaleRead, Count: 1}}
			res.Linearizable.Witnesses = []checker.Witness{{Kind: checker.RealTimeStaleRead, Key: "k", Text: "read returned 1 after 2 was written"}}
		}
		return harness.Outcome{Dir: "d", Results: res}, nil
	}
}

func TestTestCount(t *testing.T) {
	const V, I, U = checker.Valid, checker.Invalid, checker.Unknown
	tests := []struct {
		name      string
		verdicts  []checker.Verdict
		keepGoing bool
		seeds     []uint64
		exit      int
	}{
		{"all valid", []checker.Verdict{V, V, V}, false, []uint64{1, 2, 3}, checker.ExitValid},
		{"stops at the first invalid", []checker.Verdict{V, I, V}, false, []uint64{1, 2}, checker.ExitInvalid},
		{"keep going", []checker.Verdict{V, I, V}, true, []uint64{1, 2, 3}, checker.ExitInvalid},
		{"unknown beats valid", []checker.Verdict{V, U, V}, false, []uint64{1, 2, 3}, checker.ExitUnknown},
		{"harness failure stops", []checker.Verdict{V, "", V}, true, []uint64{1, 2}, checker.ExitHarness},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := harness.DefaultConfig()
			cfg.Workload.Seed = 1
			junit := filepath.Join(t.TempDir(), "junit.xml")
			var seeds []uint64
			var stdout bytes.Buffer
			err := runTests(context.Background(), cfg, machineOutput{json: true, junit: junit, count: 3, keepGoing: tt.keepGoing}, &stdout, fakeRuns(tt.verdicts, &seeds))
			code := checker.ExitHarness
			var ee exitError
			if errors.As(err, &ee) {
				code = ee.code
			}
			if code != tt.exit || !slices.Equal(seeds, tt.seeds) {
				t.Fatalf("exit %d, seeds %v; want %d, %v (err %v)", code, seeds, tt.exit, tt.seeds, err)
			}
			var out struct {
				Verdict checker.Verdict `json:"verdict"`
				Counts  map[string]int  `json:"counts"`
				Runs    []struct {
					Seed     uint64 `json:"seed"`
					ExitCode int    `json:"exit_code"`
				} `json:"runs"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || len(out.Runs) != len(tt.seeds) {
				t.Fatalf("--json output %q: %v", stdout.String(), err)
			}
			checkJUnit(t, junit, len(tt.seeds))
		})
	}
}

// checkJUnit checks the elements and attributes JUnit's XML schema
// requires: testsuites of testsuite (name, tests, failures, errors, time)
// of testcase (name, classname), failure and error with a message.
func checkJUnit(t *testing.T, path string, suites int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name `xml:"testsuites"`
		Tests   *int     `xml:"tests,attr"`
		Suites  []struct {
			Name     string `xml:"name,attr"`
			Tests    *int   `xml:"tests,attr"`
			Failures *int   `xml:"failures,attr"`
			Errors   *int   `xml:"errors,attr"`
			Time     string `xml:"time,attr"`
			Cases    []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("junit: %v\n%s", err, b)
	}
	if len(doc.Suites) != suites || doc.Tests == nil {
		t.Fatalf("junit: %d suites, want %d\n%s", len(doc.Suites), suites, b)
	}
	for _, s := range doc.Suites {
		if s.Name == "" || s.Tests == nil || s.Failures == nil || s.Errors == nil || s.Time == "" || *s.Tests != len(s.Cases) {
			t.Fatalf("junit suite lacks required attributes:\n%s", b)
		}
		failures, errs := 0, 0
		for _, c := range s.Cases {
			if c.Name == "" || c.Classname == "" {
				t.Fatalf("junit case lacks name or classname:\n%s", b)
			}
			if c.Failure != nil {
				failures++
				if c.Failure.Message == "" || !strings.Contains(c.Failure.Text, "read returned 1") {
					t.Fatalf("failure without the witness:\n%s", b)
				}
			}
			if c.Error != nil {
				errs++
			}
		}
		if failures != *s.Failures || errs != *s.Errors {
			t.Fatalf("suite counts %d/%d, cases %d/%d:\n%s", *s.Failures, *s.Errors, failures, errs, b)
		}
	}
}

func TestParseAge(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", 0, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"1.5d", 36 * time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"-1d", 0, true},
		{"soon", 0, true},
		{"0s", 0, true},
	}
	for _, tt := range tests {
		got, err := parseAge(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("parseAge(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
