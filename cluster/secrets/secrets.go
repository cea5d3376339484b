// Package secrets makes a TLS run's secrets: a CA made for the run, each
// node's certificate and the cluster's gossip key, and the file layout a
// node finds them in.
package secrets

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

// New makes a run's CA, cluster key and client certificate.
func New() (*Secrets, error) {
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
	caFile     = "ca.pem"
	certFile   = "node.pem"
	keyFile    = "node-key.pem"
	gossipFile = "gossip.key"
)

// NodeFiles are node id's secret files by name: its certificate is valid
// for its IP and its id.
func (s *Secrets) NodeFiles(id, ip string) (map[string][]byte, error) {
	cert, key, err := s.ca.Issue(id, ip, id)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", id, err)
	}
	return map[string][]byte{caFile: s.ca.CertPEM(), certFile: cert, keyFile: key, gossipFile: []byte(s.key)}, nil
}

// Paths are where a node finds its NodeFiles.
type Paths struct{ CA, Cert, Key, Gossip string }

// In are the paths of NodeFiles written into dir.
func In(dir string) Paths {
	return Paths{
		CA: filepath.Join(dir, caFile), Cert: filepath.Join(dir, certFile),
		Key: filepath.Join(dir, keyFile), Gossip: filepath.Join(dir, gossipFile),
	}
}
