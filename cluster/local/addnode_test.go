package local

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/cluster"
	"github.com/quorumlab/quorumlab/cluster/launch"
)

// flagValue returns the value of the last --name in args.
func flagValue(args []string, name string) string {
	v := ""
	for i := 0; i+1 < len(args); i++ {
		if args[i] == name {
			v = args[i+1]
		}
	}
	return v
}

func TestAddNodeFake(t *testing.T) {
	tests := []struct {
		name      string
		namespace bool
	}{
		{"namespace", true},
		{"no namespace", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.namespace {
				requireNamespace(t)
			} else {
				t.Setenv(envNetNS, "")
				t.Setenv(envNoNetNS, "testing the fallback")
			}
			t.Setenv(envFakeKVNode, "1")
			c, _ := startFake(t, []string{"--log-level", "debug"})

			var founders, gossip []string
			for _, n := range c.nodes.All() {
				founders = append(founders, n.info.ID+"="+n.info.PeerAddr)
				gossip = append(gossip, n.gossip)
			}
			for _, n := range c.nodes.All() {
				if got := flagValue(n.args, "--peers"); got != strings.Join(founders, ",") {
					t.Errorf("%s --peers %q, want the founders %q", n.info.ID, got, strings.Join(founders, ","))
				}
				if got := flagValue(n.args, "--join"); got != strings.Join(gossip, ",") {
					t.Errorf("%s --join %q, want every gossip address %q", n.info.ID, got, strings.Join(gossip, ","))
				}
				if got := flagValue(n.args, "--peer-listen"); got != n.info.PeerAddr || got == n.info.Addr || !strings.HasPrefix(got, n.info.IP+":") {
					t.Errorf("%s --peer-listen %q, want its own %q, apart from its client port", n.info.ID, got, n.info.PeerAddr)
				}
				if got := flagValue(n.args, "--gossip-listen"); got != n.gossip || !strings.HasPrefix(got, n.info.IP+":") {
					t.Errorf("%s --gossip-listen %q, want %q on its own IP", n.info.ID, got, n.gossip)
				}
				if n.args[len(n.args)-2] != "--log-level" {
					t.Errorf("%s: extra args are not last: %q", n.info.ID, n.args)
				}
			}
			distinct := slices.Clone(gossip)
			slices.Sort(distinct)
			if len(slices.Compact(distinct)) != 3 {
				t.Fatalf("gossip addresses not distinct: %v", gossip)
			}

			added, err := c.AddNode(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if added.ID != "n4" {
				t.Fatalf("added node %s, want n4", added.ID)
			}
			if tt.namespace && (added.IP != "127.0.0.14" || added.Addr != "127.0.0.14:"+strconv.Itoa(nodePort)) {
				t.Fatalf("added node at %s (%s), want 127.0.0.14:%d", added.Addr, added.IP, nodePort)
			}
			if ids := len(c.Nodes()); ids != 4 {
				t.Fatalf("Nodes() has %d nodes after AddNode, want 4", ids)
			}
			if err := launch.CheckHealth(t.Context(), added.Addr, nil, time.Second); err != nil {
				t.Fatalf("added node not healthy: %v", err)
			}
			n4 := nodeOf(t, c, "n4")
			if got := flagValue(n4.args, "--peers"); got != "" {
				t.Errorf("added node --peers %q: it is no founder", got)
			}
			if got := flagValue(n4.args, "--join"); got != strings.Join(gossip, ",") {
				t.Errorf("added node --join %q, want the others' gossip addresses", got)
			}
			if tt.namespace {
				// Faults apply to the new node like to any other.
				if err := c.Partition(t.Context(), cluster.Grudge{"n4": {"n1"}, "n1": {"n4"}}); err != nil {
					t.Fatalf("partition with the added node: %v", err)
				}
				if err := c.HealNetwork(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Kill(t.Context(), "n4"); err != nil {
				t.Fatal(err)
			}
			if err := c.Start(t.Context(), "n4"); err != nil {
				t.Fatalf("restart the added node: %v", err)
			}
		})
	}
}
