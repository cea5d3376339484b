package kvnode_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/secure"
)

// rawCall makes one replica write and one client put on addr with creds and
// returns their errors: the replica service must only answer on the peer
// port, and only to peers.
func rawCall(t *testing.T, addr string, opts ...grpc.DialOption) (replicaErr, kvErr error) {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// A forged lww version far in the future would hide every later put.
	forged := &kvpb.VersionSet{Versions: []*kvpb.Version{{Value: []byte("forged"), Timestamp: 1 << 62}}}
	_, replicaErr = kvpb.NewReplicaClient(conn).Write(ctx, &kvpb.ReplicaWriteRequest{Key: []byte("k"), Set: forged})
	_, kvErr = kvpb.NewKVClient(conn).Put(ctx, &kvpb.PutRequest{Key: []byte("k"), Value: []byte("v")})
	return replicaErr, kvErr
}

func TestReplicaServiceOnlyOnPeerPort(t *testing.T) {
	tc := startCluster(t, 3, nil)
	rErr, kErr := rawCall(t, tc.cfgs[0].Listen)
	if status.Code(rErr) != codes.Unimplemented {
		t.Errorf("Replica.Write on the client port: %v, want Unimplemented", rErr)
	}
	if kErr != nil {
		t.Errorf("Put on the client port: %v", kErr)
	}
	if err := tc.clients[1].Put(ctxT(t), "k2", []byte("v"), nil); err != nil {
		t.Fatalf("the cluster does not replicate over its peer ports: %v", err)
	}
}

func TestPeerToken(t *testing.T) {
	key, _ := secure.NewKey()
	tc := startCluster(t, 3, func(c *kvnode.Config) { c.ClusterKey = key })
	ctx := ctxT(t)
	for i := range 20 {
		if err := tc.clients[i%3].Put(ctx, fmt.Sprintf("k%d", i), []byte("v"), nil, client.WithW(3)); err != nil {
			t.Fatalf("put with W=3 between nodes that share the key: %v", err)
		}
	}
	other, _ := secure.NewKey()
	for name, opts := range map[string][]grpc.DialOption{
		"no token":  nil,
		"wrong key": {grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(tokenCreds(secure.PeerToken(other)))},
	} {
		rErr, kErr := rawCall(t, tc.cfgs[0].PeerListen, opts...)
		if status.Code(rErr) != codes.Unauthenticated || status.Code(kErr) != codes.Unauthenticated {
			t.Errorf("%s on the peer port: replica %v, kv %v; want Unauthenticated", name, rErr, kErr)
		}
	}
	rErr, _ := rawCall(t, tc.cfgs[0].PeerListen, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(tokenCreds(secure.PeerToken(key))))
	if rErr != nil {
		t.Errorf("replica write with the cluster's token: %v", rErr)
	}
}

type tokenCreds string

func (t tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"kvnode-peer-token": string(t)}, nil
}
func (tokenCreds) RequireTransportSecurity() bool { return false }

// writeTLS writes a certificate of ca for name into dir.
func writeTLS(t *testing.T, ca *secure.CA, dir, name string) secure.Files {
	t.Helper()
	cert, key, err := ca.Issue(name, "127.0.0.1", name)
	if err != nil {
		t.Fatal(err)
	}
	f := secure.Files{Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+"-key.pem"), CA: filepath.Join(dir, "ca.pem")}
	for path, b := range map[string][]byte{f.Cert: cert, f.Key: key, f.CA: ca.CertPEM()} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestMutualTLS(t *testing.T) {
	ca, err := secure.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, err := ca.Material("client")
	if err != nil {
		t.Fatal(err)
	}
	tc := startTLSCluster(t, ca, dir, good.Client())
	ctx := ctxT(t)
	for i := range 20 {
		key := fmt.Sprintf("k%d", i)
		if err := tc.clients[i%3].Put(ctx, key, []byte("v"), nil, client.WithW(3)); err != nil {
			t.Fatalf("put with W=3 over mutual TLS: %v", err)
		}
		if _, err := tc.clients[(i+1)%3].Get(ctx, key, client.WithR(3)); err != nil {
			t.Fatalf("get with R=3 over mutual TLS: %v", err)
		}
	}

	strangerCA, err := secure.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := strangerCA.Material("client")
	if err != nil {
		t.Fatal(err)
	}
	// Trusts the cluster's CA but shows another CA's certificate.
	foreign := stranger.Client()
	foreign.RootCAs = good.Client().RootCAs
	noCert := good.Client()
	noCert.Certificates = nil
	for _, port := range []struct{ name, addr string }{{"client", tc.cfgs[0].Listen}, {"peer", tc.cfgs[0].PeerListen}} {
		for name, conf := range map[string]*tls.Config{"no certificate": noCert, "another CA's certificate": foreign} {
			rErr, kErr := rawCall(t, port.addr, grpc.WithTransportCredentials(credentials.NewTLS(conf)))
			if rErr == nil || kErr == nil {
				t.Errorf("%s port, %s: replica %v, kv %v; want both refused", port.name, name, rErr, kErr)
			}
		}
		rErr, kErr := rawCall(t, port.addr)
		if rErr == nil || kErr == nil {
			t.Errorf("%s port, plaintext: replica %v, kv %v; want both refused", port.name, rErr, kErr)
		}
	}
	c, err := client.Dial(tc.cfgs[0].Listen, client.Options{TLS: foreign, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Put(ctx, "k", []byte("v"), nil); err == nil {
		t.Errorf("put with another CA's certificate: %v, want refused", err)
	}
}

// startTLSCluster starts a 3-node cluster whose nodes hold certificates of
// ca, with clients that use clientTLS.
func startTLSCluster(t *testing.T, ca *secure.CA, dir string, clientTLS *tls.Config) *testCluster {
	t.Helper()
	tc := startClusterWith(t, 3, func(c *kvnode.Config) { c.TLS = writeTLS(t, ca, dir, c.ID) },
		client.Options{Timeout: 5 * time.Second, AdminToken: testToken, TLS: clientTLS})
	return tc
}

// TestGossipKey: with a cluster key, a node that holds it joins the ring
// and strangers (no key, another key) that run --join never become
// members, nor get a share of the data.
func TestGossipKey(t *testing.T) {
	key, _ := secure.NewKey()
	other, _ := secure.NewKey()
	tc := startGossipCluster(t, 2, 3, func(c *kvnode.Config) {
		switch c.ID {
		case "n4":
			c.ClusterKey = nil
		case "n5":
			c.ClusterKey = other
		default:
			c.ClusterKey = key
		}
	})
	tc.start(3)
	tc.start(4)
	tc.start(2) // holds the key: the control that joining works at all
	tc.waitView("the node with the key joins", []int{0, 1, 2},
		map[string]string{"n1": "alive/member", "n2": "alive/member", "n3": "alive/member"})
	time.Sleep(2 * time.Second) // several gossip rounds, rejoins included
	for _, i := range []int{0, 1, 2} {
		got, err := tc.view(i)
		if err != nil {
			t.Fatal(err)
		}
		for _, stranger := range []string{"n4", "n5"} {
			if s, ok := got[stranger]; ok {
				t.Errorf("%s knows stranger %s as %s", tc.cfgs[i].ID, stranger, s)
			}
		}
	}
}
