package netfault

import (
	"encoding/binary"
	"math"
	"net/netip"
	"reflect"
	"testing"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

var (
	ip1 = netip.MustParseAddr("10.0.0.11")
	ip2 = netip.MustParseAddr("10.0.0.12")
	ip3 = netip.MustParseAddr("10.0.0.13")
)

// ruleShape is what a test checks of one built rule.
type ruleShape struct {
	src, dst  netip.Addr // dst zero: no destination match
	threshold uint32     // 0: no random match
}

// shapeOf reads a built rule back: the addresses its cmps compare with and
// the loss threshold, and checks that it ends in drop.
func shapeOf(t *testing.T, chain string, exprs []expr.Any) ruleShape {
	t.Helper()
	var s ruleShape
	var offset uint32
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Payload:
			offset = e.Offset
		case *expr.Cmp:
			switch {
			case e.Op == expr.CmpOpLt:
				s.threshold = binary.BigEndian.Uint32(e.Data)
			case len(e.Data) == 4 && offset == 12:
				s.src = netip.AddrFrom4([4]byte(e.Data))
			case len(e.Data) == 4 && offset == 16:
				s.dst = netip.AddrFrom4([4]byte(e.Data))
			}
		}
	}
	last := exprs[len(exprs)-1]
	if chain == delayChain {
		// xt_NFQ_info_v3: queue 0, one queue, flags bypass; padded to 8.
		want := xt.Unknown{0, 0, 1, 0, 1, 0, 0, 0}
		if tg, ok := last.(*expr.Target); !ok || tg.Name != "NFQUEUE" || tg.Rev != 3 || !reflect.DeepEqual(tg.Info, &want) {
			t.Errorf("delay rule does not end in NFQUEUE queue 0 with bypass: %#v", last)
		}
	} else if v, ok := last.(*expr.Verdict); !ok || v.Kind != expr.VerdictDrop {
		t.Errorf("rule does not end in drop: %v", last)
	}
	return s
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name                string
		rules               Rules
		wantPartition, loss []ruleShape
		delay               []ruleShape
	}{
		{"empty", Rules{}, nil, nil, nil},
		{
			"partition between pairs",
			Rules{Partition: []Pair{{ip1, ip2}, {ip2, ip1}}},
			[]ruleShape{{src: ip1, dst: ip2}, {src: ip2, dst: ip1}}, nil, nil,
		},
		{
			"from any address to this namespace",
			Rules{Partition: []Pair{{Src: ip3}}},
			[]ruleShape{{src: ip3}}, nil, nil,
		},
		{
			"loss keeps its own chain",
			Rules{Partition: []Pair{{Src: ip1}}, Loss: []Pair{{Src: ip2}, {Src: ip3}}, LossRate: 0.25},
			[]ruleShape{{src: ip1}}, []ruleShape{{src: ip2, threshold: 2500}, {src: ip3, threshold: 2500}}, nil,
		},
		{
			"zero loss adds no rules",
			Rules{Loss: []Pair{{ip1, ip2}}, LossRate: 0},
			nil, nil, nil,
		},
		{
			"full loss",
			Rules{Loss: []Pair{{ip1, ip2}}, LossRate: 1},
			nil, []ruleShape{{src: ip1, dst: ip2, threshold: lossModulus}}, nil,
		},
		{
			"delay queues in its own chain",
			Rules{Partition: []Pair{{ip1, ip2}}, Delay: []Pair{{ip1, ip3}, {ip3, ip1}}},
			[]ruleShape{{src: ip1, dst: ip2}}, nil, []ruleShape{{src: ip1, dst: ip3}, {src: ip3, dst: ip1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chains := build(tt.rules)
			if len(chains) != 3 {
				t.Errorf("%d chains, want partition, loss and delay", len(chains))
			}
			for chain, want := range map[string][]ruleShape{partitionChain: tt.wantPartition, lossChain: tt.loss, delayChain: tt.delay} {
				got := chains[chain]
				if len(got) != len(want) {
					t.Fatalf("chain %s: %d rules, want %d", chain, len(got), len(want))
				}
				for i, exprs := range got {
					if s := shapeOf(t, chain, exprs); s != want[i] {
						t.Errorf("chain %s rule %d = %+v, want %+v", chain, i, s, want[i])
					}
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	v6 := netip.MustParseAddr("fd00::1")
	tests := []struct {
		name  string
		rules Rules
		ok    bool
	}{
		{"empty", Rules{}, true},
		{"any destination", Rules{Partition: []Pair{{Src: ip1}}}, true},
		{"rate 1", Rules{Loss: []Pair{{ip1, ip2}}, LossRate: 1}, true},
		{"rate above 1", Rules{LossRate: 1.5}, false},
		{"negative rate", Rules{LossRate: -0.1}, false},
		{"NaN rate", Rules{LossRate: math.NaN()}, false},
		{"no source", Rules{Partition: []Pair{{Dst: ip1}}}, false},
		{"IPv6 source", Rules{Loss: []Pair{{Src: v6}}}, false},
		{"IPv6 destination", Rules{Partition: []Pair{{ip1, v6}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.rules.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
