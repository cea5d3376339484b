package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestGossipFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		static  bool
		bind    string
		seeds   []string
		probeMs int64
		wantErr string
	}{
		{"static without --join", nil, true, "", nil, 0, ""},
		{"join, default gossip port", []string{"--join", "10.0.0.1:8001, 10.0.0.2:8001"}, false, "127.0.0.1:8001",
			[]string{"10.0.0.1:8001", "10.0.0.2:8001"}, 1000, ""},
		{"gossip-listen alone enables gossip", []string{"--gossip-listen", "127.0.0.1:9000"}, false, "127.0.0.1:9000", nil, 1000, ""},
		{"local profile", []string{"--join", "a:1", "--gossip-profile", "local"}, false, "127.0.0.1:8001", []string{"a:1"}, 200, ""},
		{"bad profile", []string{"--join", "a:1", "--gossip-profile", "wan"}, false, "", nil, 0, "--gossip-profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g gossipFlags
			cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
			g.register(cmd.Flags())
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			c, err := g.config(cmd, "127.0.0.1:7001")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (c == nil) != tt.static {
				t.Fatalf("config %+v, want static: %v", c, tt.static)
			}
			if c == nil {
				return
			}
			if c.BindAddr != tt.bind || !slices.Equal(c.Seeds, tt.seeds) || c.ProbeInterval.Milliseconds() != tt.probeMs {
				t.Fatalf("bind %s seeds %v probe %v, want %s %v %dms", c.BindAddr, c.Seeds, c.ProbeInterval, tt.bind, tt.seeds, tt.probeMs)
			}
		})
	}
}
