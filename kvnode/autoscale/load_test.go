package autoscale

import (
	"strings"
	"testing"
	"time"
)

const metricsAt0 = `# TYPE kvnode_requests_total counter
kvnode_requests_total{op="get",code="OK"} 100
kvnode_requests_total{op="put",code="OK"} 50
# TYPE kvnode_request_duration_seconds histogram
kvnode_request_duration_seconds_bucket{op="get",le="0.001"} 90
kvnode_request_duration_seconds_bucket{op="get",le="0.01"} 100
kvnode_request_duration_seconds_bucket{op="get",le="+Inf"} 100
kvnode_request_duration_seconds_sum{op="get"} 0.1
kvnode_request_duration_seconds_count{op="get"} 100
# TYPE kvnode_requests_in_flight gauge
kvnode_requests_in_flight 3
`

// Two seconds later: 200 more requests, 20 of them (10 %) slower than 10 ms.
const metricsAt2 = `# TYPE kvnode_requests_total counter
kvnode_requests_total{op="get",code="OK"} 250
kvnode_requests_total{op="put",code="OK"} 100
# TYPE kvnode_request_duration_seconds histogram
kvnode_request_duration_seconds_bucket{op="get",le="0.001"} 250
kvnode_request_duration_seconds_bucket{op="get",le="0.01"} 280
kvnode_request_duration_seconds_bucket{op="get",le="0.1"} 300
kvnode_request_duration_seconds_bucket{op="get",le="+Inf"} 300
kvnode_request_duration_seconds_sum{op="get"} 0.1
kvnode_request_duration_seconds_count{op="get"} 300
# TYPE kvnode_requests_in_flight gauge
kvnode_requests_in_flight 7
`

func TestRate(t *testing.T) {
	a, err := ParseMetrics(strings.NewReader(metricsAt0), t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseMetrics(strings.NewReader(metricsAt2), t0.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	l, ok := Rate("n1", a, b)
	if !ok {
		t.Fatal("no rate")
	}
	if l.Ops != 100 || l.P99 != 100*time.Millisecond || l.InFlight != 7 {
		t.Errorf("got %+v, want 100 ops/s, p99 100ms, 7 in flight", l)
	}
	if _, ok := Rate("n1", b, a); ok {
		t.Error("a counter that went back (a restart) gave a rate")
	}
	if _, err := ParseMetrics(strings.NewReader("# TYPE x counter\nx 1\n"), t0); err == nil {
		t.Error("metrics without kvnode's request counter were accepted")
	}
	if _, err := ParseMetrics(strings.NewReader("kvnode_requests_total{ 1\n"), t0); err == nil {
		t.Error("garbage was accepted")
	}
}
