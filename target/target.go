// Package target is what the harness needs of a store under test, as
// go-ycsb's DB and Jepsen's client are: a client bound to one node, with
// read, write, delete and compare-and-set, whose errors say whether a
// write certainly did not happen. kvnode and etcd implement it; nothing in
// the checker or the history knows which one ran.
package target

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"
)

// Target names.
const (
	KVNode = "kvnode"
	Etcd   = "etcd"
)

// Result is what a read returned.
type Result struct {
	// Values are the values the key holds: none if absent, several if the
	// store keeps concurrent siblings (kvnode's vclock mode).
	Values [][]byte
	// Context is opaque: a Put with it replaces exactly what this read
	// saw (kvnode: the vclock context; etcd: a write conditional on the
	// key's revision, refused as not applied if the key changed since).
	Context []byte
}

// Client talks to one node, which serves or coordinates each request.
type Client interface {
	Get(ctx context.Context, key string) (Result, error)
	Put(ctx context.Context, key string, value, context []byte) error
	Delete(ctx context.Context, key string, context []byte) error
	// CAS writes value if the key holds expected, and returns
	// ErrNotSwapped (certainly not written) if it does not.
	CAS(ctx context.Context, key string, expected, value []byte) error
	Close() error
}

// ErrNotSwapped: the comparison of a CAS or of a Put with a context
// failed, so nothing was written.
var ErrNotSwapped = errors.New("compare failed: not written")

// ErrUnsupported: the target has no such operation (kvnode has no CAS).
var ErrUnsupported = errors.New("not supported by this target")

// Definite reports whether err says the operation certainly did not take
// effect; any other error leaves a write indeterminate.
func Definite(err error) bool {
	if errors.Is(err, ErrNotSwapped) || errors.Is(err, ErrUnsupported) {
		return true
	}
	var d interface{ Definite() bool }
	return errors.As(err, &d) && d.Definite()
}

// Options configure a client.
type Options struct {
	// Timeout bounds each call that has no earlier deadline.
	Timeout time.Duration
	// TLS, if set, dials over mutual TLS.
	TLS *tls.Config
	// AdminToken authorises kvnode's admin calls.
	AdminToken string
	// Serializable makes etcd reads serializable: served by the member
	// alone, possibly stale. The default is linearizable.
	Serializable bool
}

// Features says what a target supports beyond read and write.
type Features struct {
	CAS bool
}

// FeaturesOf returns the features of a target.
func FeaturesOf(name string) (Features, error) {
	switch name {
	case KVNode:
		return Features{}, nil
	case Etcd:
		return Features{CAS: true}, nil
	}
	return Features{}, fmt.Errorf("unknown target %q (want kvnode or etcd)", name)
}

// Dial makes a client of target name for the node at addr.
func Dial(name, addr string, opts Options) (Client, error) {
	switch name {
	case KVNode:
		return dialKVNode(addr, opts)
	case Etcd:
		return dialEtcd(addr, opts)
	}
	return nil, fmt.Errorf("unknown target %q (want kvnode or etcd)", name)
}
