package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/pbs"
	"github.com/quorumlab/quorumlab/results"
)

// warsMetric is kvnode's histogram of one-way replica latencies.
const warsMetric = "kvnode_wars_seconds"

// collectWARS scrapes every node's metrics and sums its WARS histograms.
// A node that does not answer (killed, or an older kvnode) is named in
// Missing; the legs of the others still count.
func collectWARS(ctx context.Context, nodes []cluster.Node) results.WARS {
	out := results.WARS{Legs: map[string][]pbs.Bucket{}, Missing: map[string]string{}}
	sums := map[string]map[float64]uint64{} // leg -> upper bound -> cumulative count
	for _, n := range nodes {
		hist, err := scrapeWARS(ctx, n)
		if err != nil {
			out.Missing[n.ID] = err.Error()
			continue
		}
		out.Nodes = append(out.Nodes, n.ID)
		for leg, buckets := range hist {
			if sums[leg] == nil {
				sums[leg] = map[float64]uint64{}
			}
			for ub, c := range buckets {
				sums[leg][ub] += c
			}
		}
	}
	for leg, cum := range sums {
		bounds := make([]float64, 0, len(cum))
		for ub := range cum {
			bounds = append(bounds, ub)
		}
		slices.Sort(bounds)
		lo, prev := 0.0, uint64(0)
		for _, ub := range bounds {
			if math.IsInf(ub, 1) {
				continue // past the last bucket (10 s): left out
			}
			if c := cum[ub] - prev; c > 0 {
				out.Legs[leg] = append(out.Legs[leg], pbs.Bucket{Lo: lo * 1e3, Hi: ub * 1e3, Count: float64(c)})
			}
			lo, prev = ub, cum[ub]
		}
	}
	if len(out.Missing) == 0 {
		out.Missing = nil
	}
	return out
}

// scrapeWARS reads node n's WARS histogram: per leg, cumulative counts by
// upper bound in seconds.
func scrapeWARS(ctx context.Context, n cluster.Node) (map[string]map[float64]uint64, error) {
	fams, err := scrapeMetrics(ctx, n)
	if err != nil {
		return nil, err
	}
	fam, ok := fams[warsMetric]
	if !ok || fam.GetType() != dto.MetricType_HISTOGRAM {
		return nil, fmt.Errorf("metrics: no %s histogram", warsMetric)
	}
	out := map[string]map[float64]uint64{}
	for _, m := range fam.GetMetric() {
		leg := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "leg" {
				leg = l.GetValue()
			}
		}
		out[leg] = map[float64]uint64{}
		for _, b := range m.GetHistogram().GetBucket() {
			out[leg][b.GetUpperBound()] = b.GetCumulativeCount()
		}
	}
	return out, nil
}

// predictTrials is the trial count of the prediction in every report: its
// standard error is below 0.1 % of a probability.
const predictTrials = 300_000

// predictStaleness writes pbs.json for a register run whose replica
// latencies were measured; runs without them (ycsb, set, an older run) get
// none, and that is no error.
func predictStaleness(dir string, res checker.Results) error {
	if res.Staleness == nil {
		return nil
	}
	w, err := results.ReadWARS(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var t struct{ Cluster struct{ N, W, R int } }
	b, err := os.ReadFile(filepath.Join(dir, results.TestFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("%s: %w", results.TestFile, err)
	}
	p, err := results.Predict(w, t.Cluster.N, t.Cluster.R, t.Cluster.W, predictTrials, *res.Staleness)
	if err != nil {
		return err
	}
	return results.WriteJSON(filepath.Join(dir, results.PredictionFile), p)
}

// scrapeMetrics reads node n's Prometheus metrics.
func scrapeMetrics(ctx context.Context, n cluster.Node) (map[string]*dto.MetricFamily, error) {
	host, _, err := net.SplitHostPort(n.Addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, cluster.MetricsPort)+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return fams, nil
}

// counter is the value of an unlabelled counter; 0 if absent.
func counter(fams map[string]*dto.MetricFamily, name string) uint64 {
	f, ok := fams[name]
	if !ok || f.GetType() != dto.MetricType_COUNTER || len(f.GetMetric()) == 0 {
		return 0
	}
	return uint64(f.GetMetric()[0].GetCounter().GetValue())
}
