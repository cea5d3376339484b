package kvnode_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/quorumlab/quorumlab/kvnode"
)

// TestPprof: the profiler is on the metrics listener only when asked for,
// and asking for it without that listener is refused.
func TestPprof(t *testing.T) {
	ports := freePorts(t, 2)
	startCluster(t, 3, func(c *kvnode.Config) {
		switch c.ID {
		case "n1":
			c.MetricsListen, c.Pprof = ports[0], true
		case "n2":
			c.MetricsListen = ports[1]
		}
	})
	for i, want := range []int{http.StatusOK, http.StatusNotFound} {
		resp, err := http.Get("http://" + ports[i] + "/debug/pprof/goroutine?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("n%d: /debug/pprof/goroutine answered %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	cfg := kvnode.DefaultConfig()
	cfg.ID, cfg.Listen, cfg.DataDir, cfg.Pprof = "x", "127.0.0.1:1", t.TempDir(), true
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--metrics-listen") {
		t.Errorf("--pprof without --metrics-listen: %v", err)
	}
}
