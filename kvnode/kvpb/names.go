package kvpb

// The wire's enumerated strings, defined once for the node, its client and
// the harness. They stay strings rather than proto enums because ring
// entries are persisted in every node's store and printed as they are by
// `kvnode status`: an enum would make existing data dirs unreadable.

// Ring statuses (RingMember.status, Member.ring_status).
const (
	// StatusJoining: entering the ring; it gets writes for the ranges it
	// will own (not counted toward W) while it pulls them from their owners.
	StatusJoining = "joining"
	// StatusMember: owns its ranges.
	StatusMember = "member"
	// StatusLeaving: decommissioning; still owns its ranges while it streams
	// them to their next owners, who already get its writes.
	StatusLeaving = "leaving"
	// StatusLeft: out of the ring (it may still coordinate requests).
	StatusLeft = "left"
	// StatusNone is shown for gossip members that never joined the ring.
	StatusNone = "none"
)

// Liveness of a member as the answering node sees it (Member.state).
const (
	StateAlive   = "alive"
	StateSuspect = "suspect"
	StateDead    = "dead"
)

// ErrorInfo reasons (domain "kvnode") on a status that says more than its
// code.
const (
	// ReasonIndeterminate on DEADLINE_EXCEEDED: a write reached some
	// replicas but not W of them; it may or may not have happened.
	ReasonIndeterminate = "INDETERMINATE"
	// ReasonNotApplied on UNAVAILABLE: the request certainly changed
	// nothing (too few live replicas, or refused under load).
	ReasonNotApplied = "NOT_APPLIED"
	// ReasonStoreDamaged on DATA_LOSS/UNAVAILABLE: this node's store is
	// damaged and not served.
	ReasonStoreDamaged = "STORE_DAMAGED"
	// ErrorDomain is the ErrorInfo domain of every reason above.
	ErrorDomain = "kvnode"
)
