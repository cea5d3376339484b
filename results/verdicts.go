package results

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/quorumlab/quorumlab/checker"
)

// verdictRow is one check's line in the verdict table that the report and
// the machine-readable summary share.
type verdictRow struct {
	Check   string
	Verdict checker.Verdict
	Detail  string
}

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

// verdictRows lists the checks res holds, with their verdicts and figures.
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

// deletions describes a set run's deletes, if it had any.
func deletions(s *checker.SetResult) string {
	if s.Deleted == 0 && s.Resurrected == 0 {
		return ""
	}
	d := fmt.Sprintf(", deleted %d, resurrected %d", s.Deleted, s.Resurrected)
	if s.Note != "" {
		d += " (" + s.Note + ")"
	}
	return d
}
