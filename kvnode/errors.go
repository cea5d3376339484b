package kvnode

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
)

// The statuses a client acts on: the code says what kind of failure, the
// reason whether the request may have been applied (see kvpb's reasons).

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// unavailable: sent to no replica, so certainly not applied.
func unavailable(format string, args ...any) error {
	return withReason(codes.Unavailable, kvpb.ReasonNotApplied, format, args...)
}

// refused is RESOURCE_EXHAUSTED for a request the node turned away before
// applying anything: a key at its sibling or size limit, or too many
// requests in flight.
func refused(format string, args ...any) error {
	return withReason(codes.ResourceExhausted, kvpb.ReasonNotApplied, "not applied: "+format, args...)
}

// indeterminate: a write that reached some replicas but not W of them.
func indeterminate(format string, args ...any) error {
	return withReason(codes.DeadlineExceeded, kvpb.ReasonIndeterminate, "indeterminate: "+format, args...)
}

func withReason(code codes.Code, reason, format string, args ...any) error {
	st := status.Newf(code, format, args...)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: kvpb.ErrorDomain}); err == nil {
		st = d
	}
	return st.Err()
}

// forwardError keeps the coordinator's verdict on a forwarded write; a
// failure of the forwarding call itself may have happened after the
// coordinator applied the write.
func forwardError(to string, err error, tombstone bool) error {
	st := status.Convert(err)
	if st.Code() == codes.InvalidArgument || len(st.Details()) > 0 {
		return err
	}
	return indeterminate("forwarded to %s: %v", to, st.Message())
}
