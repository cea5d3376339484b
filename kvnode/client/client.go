// Package client is the Go client of kvnode: Get, Put and Delete with
// context handling and per-call deadlines, errors that keep definite and
// indeterminate failures apart, and the admin calls.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// Options configures a Client.
type Options struct {
	// Timeout bounds each call that has no earlier deadline.
	Timeout time.Duration
	// AdminToken authorises the admin calls.
	AdminToken string
	// TLS, if set, dials the node over TLS with it (a node with TLS on
	// wants a client certificate its CA signed); nil is plaintext.
	TLS *tls.Config
}

// DefaultOptions returns a 5 s call timeout and no admin token.
func DefaultOptions() Options { return Options{Timeout: 5 * time.Second} }

// Client talks to one kvnode, which coordinates every request.
type Client struct {
	addr  string
	opts  Options
	conn  *grpc.ClientConn
	kv    kvpb.KVClient
	admin kvpb.AdminClient
}

// Dial creates a client for addr; the connection is made lazily.
func Dial(addr string, opts Options) (*Client, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultOptions().Timeout
	}
	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		creds = credentials.NewTLS(opts.TLS)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds),
		// A key's versions are bounded well below this (kvnode's
		// --max-key-set-bytes on each of N replicas), so a Get always fits.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResponseBytes)))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return &Client{addr: addr, opts: opts, conn: conn, kv: kvpb.NewKVClient(conn), admin: kvpb.NewAdminClient(conn)}, nil
}

// Addr is the node this client talks to.
func (c *Client) Addr() string { return c.addr }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// maxResponseBytes is the largest response the client accepts.
const maxResponseBytes = 64 << 20

// CallOption overrides a cluster setting for one call.
type CallOption func(*callOpts)

type callOpts struct {
	r, w uint32
	bad  string // why the options are unusable
}

// WithR overrides R for one read.
func WithR(r int) CallOption { return func(o *callOpts) { o.r, o.bad = quorum("R", r, o.bad) } }

// WithW overrides W for one write.
func WithW(w int) CallOption { return func(o *callOpts) { o.w, o.bad = quorum("W", w, o.bad) } }

// quorum checks a quorum override: sent as an unsigned field, -1 would ask
// for 4294967295 replicas.
func quorum(name string, v int, bad string) (uint32, string) {
	if v < 0 || v > 1<<16 {
		return 0, fmt.Sprintf("%s=%d: a quorum override must be between 0 (the cluster's) and N", name, v)
	}
	return uint32(v), bad
}

// check refuses unusable options before anything is sent.
func (o callOpts) check(op string) error {
	if o.bad == "" {
		return nil
	}
	return &Error{Code: codes.InvalidArgument, Kind: Invalid, Op: op, Msg: o.bad}
}

func collect(opts []CallOption) callOpts {
	var o callOpts
	for _, f := range opts {
		f(&o)
	}
	return o
}

func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.opts.Timeout)
}

// Result is a read: every sibling value (none if the key is absent) and the
// context to pass to the next write of the key.
type Result struct {
	Values  [][]byte
	Context []byte
}

// Get reads key.
func (c *Client) Get(ctx context.Context, key string, opts ...CallOption) (Result, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	o := collect(opts)
	if err := o.check("get"); err != nil {
		return Result{}, err
	}
	resp, err := c.kv.Get(ctx, &kvpb.GetRequest{Key: []byte(key), R: o.r})
	if err != nil {
		return Result{}, classify("get", err)
	}
	return Result{Values: resp.GetValues(), Context: resp.GetContext()}, nil
}

// Put writes value under key. context is what the last Get returned (nil for
// a blind write). No context comes back: under vclock one covering only the
// new version would hide concurrent siblings, so read again to write again.
func (c *Client) Put(ctx context.Context, key string, value, context []byte, opts ...CallOption) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	o := collect(opts)
	if err := o.check("put"); err != nil {
		return err
	}
	if _, err := c.kv.Put(ctx, &kvpb.PutRequest{Key: []byte(key), Value: value, Context: context, W: o.w}); err != nil {
		return classify("put", err)
	}
	return nil
}

// Delete writes a tombstone for key.
func (c *Client) Delete(ctx context.Context, key string, context []byte, opts ...CallOption) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	o := collect(opts)
	if err := o.check("delete"); err != nil {
		return err
	}
	if _, err := c.kv.Delete(ctx, &kvpb.DeleteRequest{Key: []byte(key), Context: context, W: o.w}); err != nil {
		return classify("delete", err)
	}
	return nil
}

func (c *Client) adminCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := c.bound(ctx)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.opts.AdminToken), cancel
}

// Status asks the node's admin service for its view of the cluster.
func (c *Client) Status(ctx context.Context) (*kvpb.StatusResponse, error) {
	ctx, cancel := c.adminCtx(ctx)
	defer cancel()
	resp, err := c.admin.Status(ctx, &kvpb.StatusRequest{})
	if err != nil {
		return nil, classify("status", err)
	}
	return resp, nil
}

// Ring returns the node's ring, and key's preference list if key is set.
func (c *Client) Ring(ctx context.Context, key string) (*kvpb.RingResponse, error) {
	ctx, cancel := c.adminCtx(ctx)
	defer cancel()
	resp, err := c.admin.Ring(ctx, &kvpb.RingRequest{Key: []byte(key)})
	if err != nil {
		return nil, classify("ring", err)
	}
	return resp, nil
}

// Join makes the node enter the ring (gossip membership) and waits until it
// is a member or ctx ends; the join goes on in the background after that.
func (c *Client) Join(ctx context.Context) error {
	ctx, cancel := c.adminCtx(ctx)
	defer cancel()
	if _, err := c.admin.Join(ctx, &kvpb.JoinRequest{}); err != nil {
		return classify("join", err)
	}
	return nil
}

// Decommission makes the node hand its data over and leave the ring, and
// waits until it has left or ctx ends.
func (c *Client) Decommission(ctx context.Context) error {
	ctx, cancel := c.adminCtx(ctx)
	defer cancel()
	if _, err := c.admin.Decommission(ctx, &kvpb.DecommissionRequest{}); err != nil {
		return classify("decommission", err)
	}
	return nil
}

// LocalRead returns the node's own stored versions of key (not a
// coordinated read; no hints), for comparing a key's replicas.
func (c *Client) LocalRead(ctx context.Context, key string) ([]*kvpb.Version, error) {
	ctx, cancel := c.adminCtx(ctx)
	defer cancel()
	resp, err := c.admin.LocalRead(ctx, &kvpb.ReplicaReadRequest{Key: []byte(key)})
	if err != nil {
		return nil, classify("local read", err)
	}
	return resp.GetSet().GetVersions(), nil
}

// ReplicaRanges returns the node's ring's token ranges grouped by their N
// replicas.
func (c *Client) ReplicaRanges(ctx context.Context) ([]*kvpb.ReplicaRange, error) {
	ctx, cancel := c.adminCtx(ctx)
	defer cancel()
	resp, err := c.admin.Ring(ctx, &kvpb.RingRequest{ReplicaRanges: true})
	if err != nil {
		return nil, classify("ring", err)
	}
	return resp.GetReplicaRanges(), nil
}

// LocalRoot returns the root of the node's own Merkle tree over ranges,
// and how many keys it holds there (not coordinated; no hints).
func (c *Client) LocalRoot(ctx context.Context, ranges []*kvpb.TokenRange) (root, keys uint64, err error) {
	ctx, cancel := c.adminCtx(ctx)
	defer cancel()
	resp, err := c.admin.LocalTree(ctx, &kvpb.TreeRequest{Ranges: ranges})
	if err != nil {
		return 0, 0, classify("local tree", err)
	}
	return resp.GetRoot(), resp.GetKeys(), nil
}

// SetClockOffset shifts the node's lww clock by offset (clock-skew faults).
func (c *Client) SetClockOffset(ctx context.Context, offset time.Duration) error {
	ctx, cancel := c.adminCtx(ctx)
	defer cancel()
	if _, err := c.admin.SetClockOffset(ctx, &kvpb.SetClockOffsetRequest{OffsetNs: int64(offset)}); err != nil {
		return classify("set clock offset", err)
	}
	return nil
}

// Kind says what a failed call means for the data.
type Kind int

const (
	// Other is any failure not covered below (auth, internal errors).
	Other Kind = iota
	// Invalid: the request was rejected as malformed; nothing happened.
	Invalid
	// Unavailable: not enough replicas were reachable and the write was sent
	// to none; it certainly did not happen. For reads: no answer.
	Unavailable
	// Indeterminate: the write may or may not have been applied (replicas
	// did not acknowledge in time, or the connection to the coordinator broke
	// after the request was sent, or the caller's deadline passed).
	Indeterminate
)

func (k Kind) String() string {
	return [...]string{"other", "invalid", "unavailable", "indeterminate"}[k]
}

// Error is a failed call.
type Error struct {
	Kind Kind
	Code codes.Code
	Op   string
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s: %s", e.Op, e.Kind, e.Msg) }

// Definite reports whether the operation certainly did not take effect.
func (e *Error) Definite() bool { return e.Kind == Invalid || e.Kind == Unavailable }

// KindOf returns the Kind of err (Other for errors not from this package).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Other
}

// Definite reports whether err means the write certainly did not happen.
func Definite(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Definite()
}

func classify(op string, err error) error {
	st := status.Convert(err)
	e := &Error{Code: st.Code(), Op: op, Msg: st.Message()}
	switch st.Code() {
	case codes.InvalidArgument:
		e.Kind = Invalid
	case codes.Unavailable:
		// The node says it sent the write nowhere, or the call never left
		// this process (no connection could be made). A connection that broke
		// after the request was sent is indeterminate.
		if hasReason(st, kvpb.ReasonNotApplied) || strings.Contains(st.Message(), "while dialing") ||
			strings.Contains(st.Message(), "connection refused") {
			e.Kind = Unavailable
		} else {
			e.Kind = Indeterminate
		}
	case codes.ResourceExhausted:
		// Refused before anything was applied (a key at its limit, an
		// overloaded node), or a response too large: only the first is
		// definite.
		e.Kind = Other
		if hasReason(st, kvpb.ReasonNotApplied) {
			e.Kind = Unavailable
		}
	case codes.DeadlineExceeded, codes.Canceled:
		e.Kind = Indeterminate
	default:
		e.Kind = Other
	}
	return e
}

func hasReason(st *status.Status, reason string) bool {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Reason == reason {
			return true
		}
	}
	return false
}

// SetElements merges sibling values of a set-like key: each value is a
// comma-separated list of elements; the result is their sorted union.
func SetElements(values [][]byte) []string {
	var out []string
	for _, v := range values {
		for _, e := range strings.Split(string(v), ",") {
			if e != "" {
				out = append(out, e)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// EncodeSet is the inverse of SetElements for one value.
func EncodeSet(elems []string) []byte { return []byte(strings.Join(elems, ",")) }
