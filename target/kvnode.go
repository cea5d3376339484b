package target

import (
	"context"

	"github.com/quorumlab/quorumlab/kvnode/client"
)

// kvnodeClient is the kvnode client seen as a target: every call goes to
// one node, which coordinates it.
type kvnodeClient struct{ c *client.Client }

func dialKVNode(addr string, opts Options) (Client, error) {
	c, err := client.Dial(addr, client.Options{Timeout: opts.Timeout, AdminToken: opts.AdminToken, TLS: opts.TLS})
	if err != nil {
		return nil, err
	}
	return kvnodeClient{c}, nil
}

func (k kvnodeClient) Get(ctx context.Context, key string) (Result, error) {
	res, err := k.c.Get(ctx, key)
	return Result{Values: res.Values, Context: res.Context}, err
}

func (k kvnodeClient) Put(ctx context.Context, key string, value, context []byte) error {
	return k.c.Put(ctx, key, value, context)
}

func (k kvnodeClient) Delete(ctx context.Context, key string, context []byte) error {
	return k.c.Delete(ctx, key, context)
}

func (kvnodeClient) CAS(context.Context, string, []byte, []byte) error {
	return ErrUnsupported
}

func (k kvnodeClient) Close() error { return k.c.Close() }
