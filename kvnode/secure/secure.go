// Package secure holds what lets kvnode nodes and clients trust each other:
// TLS material loaded from PEM files (server, peer and client sides of
// mutual TLS), a throwaway certificate authority for test clusters, and the
// peer token that authenticates node-to-node calls on a plaintext network.
package secure

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Files names a node's or client's PEM files: its certificate, its key and
// the cluster CA that signs every node's and client's certificate.
type Files struct {
	Cert, Key, CA string
}

// Enabled reports whether any file is set.
func (f Files) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// Material is loaded TLS material: one certificate and the CA pool that
// the other side's certificate must chain to.
type Material struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// Load reads the three files. All three are needed: a node both proves
// who it is and checks who calls it.
func Load(f Files) (*Material, error) {
	if f.Cert == "" || f.Key == "" || f.CA == "" {
		return nil, errors.New("tls: --tls-cert, --tls-key and --tls-ca go together")
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: load %s and %s: %w", f.Cert, f.Key, err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	m, err := newMaterial(cert, caPEM)
	if err != nil {
		return nil, fmt.Errorf("tls: %s: %w", f.CA, err)
	}
	return m, nil
}

func newMaterial(cert tls.Certificate, caPEM []byte) (*Material, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no PEM certificate in the CA")
	}
	return &Material{cert: cert, pool: pool}, nil
}

// Server is the listener side: it shows this certificate and accepts only
// callers whose certificate the CA signed.
func (m *Material) Server() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{m.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    m.pool,
		MinVersion:   tls.VersionTLS13,
	}
}

// Client is the dialing side: it shows this certificate and accepts only a
// server whose certificate the CA signed for the name or IP dialed.
func (m *Material) Client() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{m.cert},
		RootCAs:      m.pool,
		MinVersion:   tls.VersionTLS13,
	}
}
