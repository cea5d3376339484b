package kvnode

import (
	"context"
	"crypto/subtle"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/quorumlab/quorumlab/kvnode/secure"
)

// Who may call the peer port: with TLS, holders of a certificate from the
// cluster CA (the handshake checks it); without TLS but with a cluster key,
// callers that send the peer token derived from it; with neither, anyone
// who reaches the port (trusted networks only: the node says so at start).

const peerTokenHeader = "kvnode-peer-token"

// peerToken sends the token on every call. It does not ask for transport
// security: the plaintext case is the one it exists for.
type peerToken string

func (t peerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{peerTokenHeader: string(t)}, nil
}

func (peerToken) RequireTransportSecurity() bool { return false }

// transportCreds are the credentials of both listeners' servers and of
// peer dials.
func (n *Node) serverCreds() grpc.ServerOption {
	if n.tls == nil {
		return grpc.Creds(insecure.NewCredentials())
	}
	return grpc.Creds(credentials.NewTLS(n.tls.Server()))
}

func (n *Node) peerDialCreds() []grpc.DialOption {
	if n.tls != nil {
		return []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(n.tls.Client()))}
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if len(n.cfg.ClusterKey) > 0 {
		opts = append(opts, grpc.WithPerRPCCredentials(peerToken(secure.PeerToken(n.cfg.ClusterKey))))
	}
	return opts
}

// peerAuth checks the peer token on the peer port when it is the guard.
func (n *Node) peerAuth() []grpc.ServerOption {
	if n.tls != nil || len(n.cfg.ClusterKey) == 0 {
		return nil
	}
	want := []byte(secure.PeerToken(n.cfg.ClusterKey))
	check := func(ctx context.Context) error {
		md, _ := metadata.FromIncomingContext(ctx)
		got := ""
		if v := md.Get(peerTokenHeader); len(v) > 0 {
			got = v[0]
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			n.met.peerRefused.Inc()
			return status.Error(codes.Unauthenticated, "peer port: missing or wrong peer token (the cluster key differs)")
		}
		return nil
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := check(ctx); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := check(ss.Context()); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}
