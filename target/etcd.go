package target

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// etcdClient talks to one etcd member: its reads are linearizable (a
// quorum read through the leader) unless Serializable, which the member
// serves alone from what it has applied.
type etcdClient struct {
	c    *clientv3.Client
	opts Options
}

func dialEtcd(addr string, opts Options) (Client, error) {
	scheme := "http://"
	if opts.TLS != nil {
		scheme = "https://"
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints: []string{scheme + addr},
		TLS:       opts.TLS,
		// No DialTimeout: it would make New block on a member that is
		// down; each call has its own deadline instead.
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("dial etcd %s: %w", addr, err)
	}
	return &etcdClient{c: c, opts: opts}, nil
}

func (e *etcdClient) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || e.opts.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, e.opts.Timeout)
}

func (e *etcdClient) Get(ctx context.Context, key string) (Result, error) {
	ctx, cancel := e.bound(ctx)
	defer cancel()
	var opts []clientv3.OpOption
	if e.opts.Serializable {
		opts = append(opts, clientv3.WithSerializable())
	}
	resp, err := e.c.Get(ctx, key, opts...)
	if err != nil {
		return Result{}, etcdError("get", err)
	}
	var res Result
	var rev int64 // 0: absent, which a conditional write also compares as 0
	if len(resp.Kvs) > 0 {
		res.Values = [][]byte{resp.Kvs[0].Value}
		rev = resp.Kvs[0].ModRevision
	}
	res.Context = binary.BigEndian.AppendUint64(nil, uint64(rev))
	return res, nil
}

// revision decodes a Get's context.
func revision(context []byte) (int64, error) {
	if len(context) != 8 {
		return 0, &etcdErr{op: "put", err: fmt.Errorf("context of %d bytes is not an etcd revision", len(context)), definite: true}
	}
	return int64(binary.BigEndian.Uint64(context)), nil
}

func (e *etcdClient) Put(ctx context.Context, key string, value, context []byte) error {
	if context == nil {
		ctx, cancel := e.bound(ctx)
		defer cancel()
		_, err := e.c.Put(ctx, key, string(value))
		return etcdError("put", err)
	}
	rev, err := revision(context)
	if err != nil {
		return err
	}
	return e.txn(ctx, "put", clientv3.Compare(clientv3.ModRevision(key), "=", rev), clientv3.OpPut(key, string(value)))
}

func (e *etcdClient) Delete(ctx context.Context, key string, context []byte) error {
	if context == nil {
		ctx, cancel := e.bound(ctx)
		defer cancel()
		_, err := e.c.Delete(ctx, key)
		return etcdError("delete", err)
	}
	rev, err := revision(context)
	if err != nil {
		return err
	}
	return e.txn(ctx, "delete", clientv3.Compare(clientv3.ModRevision(key), "=", rev), clientv3.OpDelete(key))
}

func (e *etcdClient) CAS(ctx context.Context, key string, expected, value []byte) error {
	return e.txn(ctx, "cas", clientv3.Compare(clientv3.Value(key), "=", string(expected)), clientv3.OpPut(key, string(value)))
}

// txn applies then if cmp holds, and returns ErrNotSwapped if it did not.
func (e *etcdClient) txn(ctx context.Context, op string, cmp clientv3.Cmp, then clientv3.Op) error {
	ctx, cancel := e.bound(ctx)
	defer cancel()
	resp, err := e.c.Txn(ctx).If(cmp).Then(then).Commit()
	if err != nil {
		return etcdError(op, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("%s: %w", op, ErrNotSwapped)
	}
	return nil
}

func (e *etcdClient) Close() error { return e.c.Close() }

// etcdErr is an etcd error with whether the request certainly was not
// applied: refused before it was proposed to raft.
type etcdErr struct {
	op       string
	err      error
	definite bool
}

func (e *etcdErr) Error() string  { return e.op + ": " + e.err.Error() }
func (e *etcdErr) Unwrap() error  { return e.err }
func (e *etcdErr) Definite() bool { return e.definite }

func etcdError(op string, err error) error {
	if err == nil {
		return nil
	}
	return &etcdErr{op: op, err: err, definite: refusedBeforeProposal(err)}
}

// refusedBeforeProposal: errors etcd returns before a request reaches
// raft. Everything else (timeouts, a leader change, a lost connection)
// may follow a proposal that commits later.
func refusedBeforeProposal(err error) bool {
	if errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrTooManyRequests) {
		return true
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.ResourceExhausted, codes.OutOfRange:
		return true
	}
	return false
}
