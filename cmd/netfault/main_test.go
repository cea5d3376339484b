package main

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/quorumlab/quorumlab/cluster/netfault"
)

func TestDropRules(t *testing.T) {
	a, b := netip.MustParseAddr("172.18.0.11"), netip.MustParseAddr("172.18.0.12")
	tests := []struct {
		name     string
		from     []string
		lossFrom []string
		loss     float64
		want     netfault.Rules
		wantErr  string
	}{
		{"nothing", nil, nil, 0, netfault.Rules{Partition: []netfault.Pair{}, Loss: []netfault.Pair{}}, ""},
		{
			"partition and loss",
			[]string{"172.18.0.11"}, []string{"172.18.0.11", "172.18.0.12"}, 0.3,
			netfault.Rules{
				Partition: []netfault.Pair{{Src: a}},
				Loss:      []netfault.Pair{{Src: a}, {Src: b}},
				LossRate:  0.3,
			},
			"",
		},
		{"bad address", []string{"172.18.0"}, nil, 0, netfault.Rules{}, "--from"},
		{"IPv6", nil, []string{"fd00::1"}, 0.5, netfault.Rules{}, "not an IPv4"},
		{"loss-from without loss", nil, []string{"172.18.0.11"}, 0, netfault.Rules{}, "without --loss"},
		{"loss above 1", nil, []string{"172.18.0.11"}, 2, netfault.Rules{}, "between 0 and 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dropRules(tt.from, tt.lossFrom, tt.loss)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rules %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestNetfaultUsageErrors checks that bad flags are refused before any
// nftables call, with the usage exit code.
func TestNetfaultUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"drop", "--from", "nonsense"},
		{"drop", "--loss-from", "10.0.0.1"},
	} {
		var stderr bytes.Buffer
		if code := run(args, &bytes.Buffer{}, &stderr); code != exitInvalid {
			t.Errorf("netfault %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), code, exitInvalid, stderr.String())
		}
	}
}
