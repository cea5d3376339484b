package cluster

import (
	"crypto/tls"
	"fmt"
	"path/filepath"

	"github.com/quorumlab/quorumlab/kvnode/secure"
)

// Secrets are what a TLS cluster's nodes and the harness are given: a CA
// made for the run, so the nodes trust each other and the harness and
// nothing else, and a cluster key for gossip (which TLS does not cover).
type Secrets struct {
	ca     *secure.CA
	key    string // the key file's contents
	client *tls.Config
}

// NewSecrets makes a run's CA, cluster key and client certificate.
func NewSecrets() (*Secrets, error) {
	ca, err := secure.NewCA("quorumlab run CA")
	if err != nil {
		return nil, err
	}
	m, err := ca.Material("quorumlab")
	if err != nil {
		return nil, err
	}
	_, key := secure.NewKey()
	return &Secrets{ca: ca, key: key, client: m.Client()}, nil
}

// ClientTLS is the harness's side of mutual TLS; nil (plaintext) on nil.
func (s *Secrets) ClientTLS() *tls.Config {
	if s == nil {
		return nil
	}
	return s.client.Clone()
}

// The names of a node's secret files, inside the directory it is given.
const (
	secretCA     = "ca.pem"
	secretCert   = "node.pem"
	secretKey    = "node-key.pem"
	secretGossip = "gossip.key"
)

// NodeFiles are node n's secret files by name: its certificate is valid
// for its IP and its id.
func (s *Secrets) NodeFiles(n Node) (map[string][]byte, error) {
	cert, key, err := s.ca.Issue(n.ID, n.IP, n.ID)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.ID, err)
	}
	return map[string][]byte{secretCA: s.ca.CertPEM(), secretCert: cert, secretKey: key, secretGossip: []byte(s.key)}, nil
}

// SecretArgs are the `kvnode serve` flags that name NodeFiles under dir.
func SecretArgs(dir string) []string {
	return []string{
		"--tls-cert", filepath.Join(dir, secretCert), "--tls-key", filepath.Join(dir, secretKey),
		"--tls-ca", filepath.Join(dir, secretCA), "--gossip-key-file", filepath.Join(dir, secretGossip),
	}
}
