package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/quorumlab/quorumlab/target"
)

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

type keyValue struct{ Key, Value string }

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
