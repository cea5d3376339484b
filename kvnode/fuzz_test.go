package kvnode

import (
	"testing"
)

// FuzzParsePeers: --peers is outside input; parsing never panics and every
// peer it accepts has an id and a host:port address.
func FuzzParsePeers(f *testing.F) {
	f.Add("n1=127.0.0.1:7001,n2=127.0.0.2:7001/z1/2")
	f.Add("")
	f.Add("=,=x:1,n=a")
	f.Add("n1=[::1]:7001/zone/0")
	f.Fuzz(func(t *testing.T, s string) {
		peers, err := ParsePeers(s)
		if err != nil {
			return
		}
		for _, p := range peers {
			if p.ID == "" || p.Addr == "" {
				t.Fatalf("ParsePeers(%q) accepted %+v", s, p)
			}
		}
	})
}
