package membership

import (
	"log/slog"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		in    string
		level slog.Level
		msg   string
	}{
		{"[DEBUG] memberlist: Stream connection from=1.2.3.4:5\n", slog.LevelDebug, "Stream connection from=1.2.3.4:5"},
		{"[INFO] memberlist: Suspect n2 has failed, no acks received", slog.LevelInfo, "Suspect n2 has failed, no acks received"},
		{"[WARN] memberlist: Was able to connect to n3 over TCP but UDP probes failed", slog.LevelWarn, "Was able to connect to n3 over TCP but UDP probes failed"},
		{"[ERR] memberlist: Failed to send ping: boom", slog.LevelError, "Failed to send ping: boom"},
		{"Err: Could not set the deadline: x", slog.LevelError, "Err: Could not set the deadline: x"},
		{"[ERR] Failed to shutdown transport: y", slog.LevelError, "Failed to shutdown transport: y"},
	}
	for _, tt := range tests {
		level, msg := parseLine(tt.in)
		if level != tt.level || msg != tt.msg {
			t.Errorf("parseLine(%q) = %v %q, want %v %q", tt.in, level, msg, tt.level, tt.msg)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultLocalConfig()
	ok.Name, ok.BindAddr = "n1", "127.0.0.1:8001"
	tests := []struct {
		name   string
		mutate func(*Config)
		bad    bool
	}{
		{"ok", func(*Config) {}, false},
		{"no name", func(c *Config) { c.Name = "" }, true},
		{"bind not host:port", func(c *Config) { c.BindAddr = "8001" }, true},
		{"bind hostname", func(c *Config) { c.BindAddr = "localhost:8001" }, true},
		{"unspecified bind, no advertise", func(c *Config) { c.BindAddr = "0.0.0.0:8001" }, true},
		{"unspecified bind, advertise", func(c *Config) { c.BindAddr, c.AdvertiseAddr = "0.0.0.0:8001", "10.0.0.2:8001" }, false},
		{"bad seed", func(c *Config) { c.Seeds = []string{"n2"} }, true},
		{"zero probe interval", func(c *Config) { c.ProbeInterval = 0 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			if err := c.Validate(); (err != nil) != tt.bad {
				t.Fatalf("Validate() = %v, want error: %v", err, tt.bad)
			}
		})
	}
}
