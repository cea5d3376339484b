package autoscale

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ring returns k alive members n1…nk with ring status member, and loads of
// ops each.
func ring(k int, ops float64) ([]Member, []Load) {
	var ms []Member
	var ls []Load
	for i := 1; i <= k; i++ {
		id := fmt.Sprintf("n%d", i)
		ms = append(ms, Member{ID: id, Alive: true, Ring: kvpb.StatusMember})
		ls = append(ls, Load{Node: id, Ops: ops})
	}
	return ms, ls
}

func testConfig() Config {
	c := DefaultConfig()
	c.Min, c.Max, c.TargetOps, c.Sustain, c.Cooldown, c.MaxP99 = 3, 6, 1000, 2, 10*time.Second, 200*time.Millisecond
	return c
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name string
		// obs is a sequence of observations 1 s apart; the last one's
		// decision is checked.
		obs    func() []Observation
		action Action
		node   string
		reason string // a part of the decision's reason
	}{
		{"hot once is not enough", func() []Observation {
			ms, ls := ring(3, 1500)
			return []Observation{{Members: ms, Load: ls}}
		}, None, "", "1 of 2"},
		{"hot twice adds", func() []Observation {
			ms, ls := ring(3, 1500)
			return []Observation{{Members: ms, Load: ls}, {Members: ms, Load: ls}}
		}, Add, "", "ops/node 1500 above 1000"},
		{"a calm sample in between restarts the count", func() []Observation {
			ms, hot := ring(3, 1500)
			_, calm := ring(3, 800)
			return []Observation{{Members: ms, Load: hot}, {Members: ms, Load: calm}, {Members: ms, Load: hot}}
		}, None, "", "1 of 2"},
		{"at max nothing is added", func() []Observation {
			ms, ls := ring(6, 5000)
			return []Observation{{Members: ms, Load: ls}, {Members: ms, Load: ls}}
		}, None, "", "already at max=6"},
		{"p99 calls for a node", func() []Observation {
			ms, ls := ring(3, 100)
			ls[1].P99 = 300 * time.Millisecond
			return []Observation{{Members: ms, Load: ls}, {Members: ms, Load: ls}}
		}, Add, "", "p99 ms 300 above 200"},
		{"cold twice removes the newest", func() []Observation {
			ms, ls := ring(10, 100)
			ms, ls = ms[4:], ls[4:] // n5…n10: n10 sorts after n9
			return []Observation{{Members: ms, Load: ls}, {Members: ms, Load: ls}}
		}, Remove, "n10", "below 600"},
		{"hysteresis: a removal that would call for an addition is not made", func() []Observation {
			ms, ls := ring(4, 500) // 3 nodes would each see 667, above down's 600
			return []Observation{{Members: ms, Load: ls}, {Members: ms, Load: ls}}
		}, None, "", "within"},
		{"never below the floor", func() []Observation {
			ms, ls := ring(3, 0)
			return []Observation{{Members: ms, Load: ls}, {Members: ms, Load: ls}}
		}, None, "", "at the floor"},
		{"below the floor adds at once", func() []Observation {
			ms, ls := ring(2, 0)
			return []Observation{{Members: ms, Load: ls}}
		}, Add, "", "below the floor"},
		{"no removal while a member is down", func() []Observation {
			ms, ls := ring(5, 10)
			ms[2].Alive = false
			return []Observation{{Members: ms, Load: ls}, {Members: ms, Load: ls}}
		}, None, "", "down"},
		{"a down member still lets the ring grow", func() []Observation {
			ms, ls := ring(4, 1500)
			ms[0].Alive = false
			return []Observation{{Members: ms, Load: ls}, {Members: ms, Load: ls}}
		}, Add, "", "above"},
		{"one change at a time: a joining member holds everything", func() []Observation {
			ms, ls := ring(3, 5000)
			ms = append(ms, Member{ID: "n4", Alive: true, Ring: kvpb.StatusJoining})
			return []Observation{{Members: ms, Load: ls}, {Members: ms, Load: ls}}
		}, None, "", "n4 is joining"},
		{"a leaving member holds a removal", func() []Observation {
			ms, ls := ring(6, 0)
			ms[5].Ring = kvpb.StatusLeaving
			return []Observation{{Members: ms, Load: ls}, {Members: ms, Load: ls}}
		}, None, "", "n6 is leaving"},
		{"no samples, no decision", func() []Observation {
			ms, _ := ring(4, 0)
			return []Observation{{Members: ms}, {Members: ms}}
		}, None, "", "no load sample"},
		{"nodes outside the ring do not count", func() []Observation {
			ms, ls := ring(4, 100)
			ms = append(ms, Member{ID: "n9", Alive: true, Ring: "left"})
			return []Observation{{Members: ms, Load: ls}, {Members: ms, Load: ls}}
		}, Remove, "n4", "below"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPolicy(testConfig())
			var d Decision
			for i, o := range tt.obs() {
				o.Time = t0.Add(time.Duration(i) * time.Second)
				d = p.Decide(o)
			}
			if d.Action != tt.action || d.Node != tt.node || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("got %+v, want %q %q with reason containing %q", d, tt.action, tt.node, tt.reason)
			}
		})
	}
}

func TestCooldown(t *testing.T) {
	p := NewPolicy(testConfig())
	ms, ls := ring(3, 1500)
	p.Changed(t0)
	for i, want := range []Action{None, None, None, Add} {
		at := t0.Add([]time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 11 * time.Second}[i])
		if d := p.Decide(Observation{Time: at, Members: ms, Load: ls}); d.Action != want {
			t.Fatalf("at %v: %+v, want %q", at.Sub(t0), d, want)
		}
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		spec string
		ok   bool
		want func(Config) bool
	}{
		{"min=3,max=7,target-ops=1500", true, func(c Config) bool { return c.Min == 3 && c.Max == 7 && c.TargetOps == 1500 }},
		{"min=3,max=6,target-ops=200,sustain=2,cooldown=3s,interval=1s,p99=150ms", true, func(c Config) bool {
			return c.Sustain == 2 && c.Cooldown == 3*time.Second && c.Interval == time.Second && c.MaxP99 == 150*time.Millisecond
		}},
		{"", true, func(c Config) bool { return c == func() Config { d := DefaultConfig(); d.N = 3; return d }() }},
		{"min=3,max=2", false, nil},
		{"min=1,max=2", false, nil}, // below N=3
		{"target-ops=0", false, nil},
		{"down=1.2", false, nil},
		{"size=3", false, nil},
		{"min", false, nil},
		{"min=x", false, nil},
	}
	for _, tt := range tests {
		c, err := ParseSpec(tt.spec, 3)
		if (err == nil) != tt.ok {
			t.Errorf("%q: err %v, want ok=%v", tt.spec, err, tt.ok)
			continue
		}
		if tt.ok && !tt.want(c) {
			t.Errorf("%q: got %+v", tt.spec, c)
		}
	}
}
