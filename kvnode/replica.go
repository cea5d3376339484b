package kvnode

import (
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quorumlab/quorumlab/kvnode/kvpb"
	"github.com/quorumlab/quorumlab/kvnode/ring"
	"github.com/quorumlab/quorumlab/kvnode/storage"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

// replica is this node's own copy of the data: version sets merged into
// storage, hints kept for other nodes, and the refusals of a damaged or
// recovering store. The coordinator and the replica service both use it;
// it calls nothing of theirs.
type replica struct {
	id    string
	mode  version.Mode
	store *storage.Store
	// hintStored counts hints taken (a metric).
	hintStored func()
	// recovering: rebuilding this node's ranges (recover.go).
	recovering atomic.Bool
}

// read returns this node's versions of key, with the hints it holds for
// other nodes if withHints is set.
func (r *replica) read(token uint64, key []byte, withHints bool) ([]*kvpb.Version, error) {
	set, err := r.store.Get(token, key)
	if err != nil || !withHints {
		return set.GetVersions(), err
	}
	hints, err := r.store.KeyHints(token, key)
	if err != nil {
		return nil, err
	}
	vs := set.GetVersions()
	for _, h := range hints {
		vs, _ = version.Merge(r.mode, vs, h.GetVersions())
	}
	return vs, nil
}

// merge merges vs into the key's stored set and reports whether that
// changed it.
func (r *replica) merge(token uint64, key []byte, vs []*kvpb.Version) (bool, error) {
	changed := false
	_, err := r.store.Update(token, key, func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool) {
		merged, ch := version.Merge(r.mode, old.GetVersions(), vs)
		if !ch {
			return old, false
		}
		changed = true
		return &kvpb.VersionSet{Versions: merged}, true
	})
	return changed, err
}

// update runs f on the key's stored set in one synced write: for a
// coordinator that builds its version from what it holds.
func (r *replica) update(token uint64, key []byte, f func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool)) (*kvpb.VersionSet, error) {
	return r.store.Update(token, key, f)
}

// apply is merge for a caller that needs no answer.
func (r *replica) apply(token uint64, key []byte, vs []*kvpb.Version) error {
	_, err := r.merge(token, key, vs)
	return err
}

// keyedSet is one key's versions to merge, or to keep as a hint: a replica
// write or a transferred entry.
type keyedSet interface {
	GetKey() []byte
	GetSet() *kvpb.VersionSet
	GetHintFor() string
}

// mergeMany merges every set into r's store in one synced commit and
// reports how many keys changed; the rare hints among them are stored
// first, one by one, so an error may leave some of them applied.
func mergeMany[T keyedSet](r *replica, sets []T) (int, error) {
	us := make([]storage.KeyUpdate, 0, len(sets))
	for _, e := range sets {
		token, in := ring.Token(e.GetKey()), e.GetSet().GetVersions()
		if owner := e.GetHintFor(); owner != "" {
			if err := r.hint(owner, token, e.GetKey(), in); err != nil {
				return 0, err
			}
			continue
		}
		us = append(us, storage.KeyUpdate{Token: token, Key: e.GetKey(), Fn: func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool) {
			merged, ch := version.Merge(r.mode, old.GetVersions(), in)
			if !ch {
				return old, false
			}
			return &kvpb.VersionSet{Versions: merged}, true
		}})
	}
	if len(us) == 0 {
		return 0, nil
	}
	changed, err := r.store.UpdateMany(us)
	count := 0
	for _, c := range changed {
		if c {
			count++
		}
	}
	return count, err
}

// hint merges vs into the hint kept for owner.
func (r *replica) hint(owner string, token uint64, key []byte, vs []*kvpb.Version) error {
	_, err := r.store.UpdateHint(owner, token, key, func(old *kvpb.VersionSet) (*kvpb.VersionSet, bool) {
		merged, ch := version.Merge(r.mode, old.GetVersions(), vs)
		if !ch {
			return old, false
		}
		return &kvpb.VersionSet{Versions: merged}, true
	})
	if err == nil && r.hintStored != nil {
		r.hintStored()
	}
	return err
}

// usable reports whether this replica can serve reads and writes now.
func (r *replica) usable() bool {
	return r.store.Damage() == nil && !r.recovering.Load()
}

// refusal returns the error for a replica call this node must not serve:
// any on a damaged store, reads while it recovers.
func (r *replica) refusal(write bool) error {
	if err := r.store.Damage(); err != nil {
		return withReason(codes.FailedPrecondition, kvpb.ReasonStoreDamaged,
			"replica %s: %v; it serves no replica requests: restart it with --recover-from-peers to rebuild it from its replicas (the damaged data dir is kept aside)",
			r.id, err)
	}
	if !write && r.recovering.Load() {
		return status.Errorf(codes.Unavailable, "replica %s is rebuilding its ranges from its replicas (--recover-from-peers) and serves no reads yet", r.id)
	}
	return nil
}

// damage is the store's damage for `kvnode status`.
func (r *replica) damage() string {
	if err := r.store.Damage(); err != nil {
		return err.Error()
	}
	return ""
}
