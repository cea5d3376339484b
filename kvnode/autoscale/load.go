package autoscale

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The kvnode metrics a load sample is made of.
const (
	requestsMetric = "kvnode_requests_total"
	latencyMetric  = "kvnode_request_duration_seconds"
	inFlightMetric = "kvnode_requests_in_flight"
)

// Counters are one node's cumulative request metrics at one moment; the
// load between two of them is Rate.
type Counters struct {
	Time     time.Time
	Requests float64
	// Latency is the cumulative latency histogram: count per upper bound
	// in seconds, every operation summed.
	Latency  map[float64]float64
	InFlight float64
}

// ParseMetrics reads the counters from a node's Prometheus text output,
// taken at t.
func ParseMetrics(r io.Reader, t time.Time) (Counters, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return Counters{}, fmt.Errorf("metrics: %w", err)
	}
	c := Counters{Time: t, Latency: map[float64]float64{}}
	req, ok := fams[requestsMetric]
	if !ok {
		return Counters{}, fmt.Errorf("metrics: no %s (not a kvnode?)", requestsMetric)
	}
	for _, m := range req.GetMetric() {
		c.Requests += m.GetCounter().GetValue()
	}
	for _, m := range fams[latencyMetric].GetMetric() {
		for _, b := range m.GetHistogram().GetBucket() {
			c.Latency[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
	}
	for _, m := range fams[inFlightMetric].GetMetric() {
		c.InFlight += m.GetGauge().GetValue()
	}
	return c, nil
}

// Rate is node's load between two samples of its counters; ok is false
// when they span no time or the counters went back (the node restarted).
func Rate(node string, prev, cur Counters) (Load, bool) {
	dt := cur.Time.Sub(prev.Time).Seconds()
	if dt <= 0 || cur.Requests < prev.Requests {
		return Load{}, false
	}
	return Load{Node: node, Ops: (cur.Requests - prev.Requests) / dt, P99: quantile(prev.Latency, cur.Latency, 0.99), InFlight: cur.InFlight}, true
}

// quantile is the q-quantile of the requests between two cumulative
// histograms, as the upper bound of the bucket it falls in (0 if none).
func quantile(prev, cur map[float64]float64, q float64) time.Duration {
	bounds := make([]float64, 0, len(cur))
	for ub := range cur {
		bounds = append(bounds, ub)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 {
		return 0
	}
	total := cur[bounds[len(bounds)-1]] - prev[bounds[len(bounds)-1]]
	if total <= 0 {
		return 0
	}
	for _, ub := range bounds {
		if cur[ub]-prev[ub] >= q*total {
			if math.IsInf(ub, 1) {
				ub = bounds[max(len(bounds)-2, 0)] // past the last bound: say the last
			}
			return time.Duration(ub * float64(time.Second))
		}
	}
	return 0
}
