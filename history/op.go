// Package history holds the operation and nemesis-event records of a run and
// the JSONL reader and writer for them.
package history

import (
	"encoding/json"
	"fmt"
)

// Type is the kind of a history record, as in Jepsen.
type Type string

const (
	// Invoke is written before an operation is sent.
	Invoke Type = "invoke"
	// OK means the operation certainly happened.
	OK Type = "ok"
	// Fail means the operation certainly did not happen.
	Fail Type = "fail"
	// Info means the operation may or may not have happened. The process that
	// issued it never issues another operation; its client continues under a
	// new process id.
	Info Type = "info"
)

// NemesisProcess is the process id of nemesis events.
const NemesisProcess = -1

// Operation names used by the workloads and the nemesis.
const (
	FRead  = "read"
	FWrite = "write"
	// FCas is compare-and-set on a register: Value is [expected, new] on
	// the invocation and on its completion. ok: it swapped; fail: the
	// comparison failed, so it certainly did not write; info: unknown.
	FCas = "cas"
	FAdd = "add"
	// FDelete deletes a set key: every element added before it is gone
	// (the set workload's delete-and-re-add).
	FDelete = "delete"
	// FUpdate, FInsert and FRMW are the ycsb operations besides FRead.
	FUpdate = "update"
	FInsert = "insert"
	FRMW    = "rmw"
	// FMeasure is a marker, not a fault: a record of NemesisProcess whose
	// Value is {"warmup_ns": W}. Latency and throughput figures cover only
	// operations that start at or after its Time + W; what comes before (a
	// ycsb load phase, a warmup) is in the history but not in the figures.
	FMeasure = "measure"
)

// Op is one line of history.jsonl: an invoke or completion of a client
// operation, or a nemesis event (Process == NemesisProcess).
type Op struct {
	Index   int64  `json:"index"`
	Time    int64  `json:"time"` // monotonic nanoseconds since the run started
	Process int    `json:"process"`
	Type    Type   `json:"type"`
	F       string `json:"f"`
	Key     string `json:"key,omitempty"`
	// Value is the argument of a write/add (a JSON integer), of a cas (a
	// JSON array [expected, new]), the result of a read (a JSON array of integers: the siblings of a register, the elements
	// of a set; [] when the key is absent), or a nemesis event's description
	// (a JSON object).
	Value json.RawMessage `json:"value,omitempty"`
	Node  string          `json:"node,omitempty"`
	Error string          `json:"error,omitempty"`
	// Intended is set on invocations of an open-loop run (a target rate): the
	// time, on the same clock as Time, at which the schedule meant to send the
	// operation. Time − Intended is how long it waited for a free client;
	// latency measured from Intended is corrected for coordinated omission.
	// 0 means none (closed loop), and completions never carry it.
	Intended int64 `json:"intended,omitempty"`
}

// IsNemesis reports whether op is a nemesis event.
func (op Op) IsNemesis() bool { return op.Process == NemesisProcess }

// IntValue decodes Value as one integer.
func (op Op) IntValue() (int64, error) {
	var v int64
	if err := json.Unmarshal(op.Value, &v); err != nil {
		return 0, fmt.Errorf("op %d: value %q is not an integer: %w", op.Index, op.Value, err)
	}
	return v, nil
}

// IntsValue decodes Value as a list of integers; a missing value is nil.
func (op Op) IntsValue() ([]int64, error) {
	if len(op.Value) == 0 || string(op.Value) == "null" {
		return nil, nil
	}
	var v []int64
	if err := json.Unmarshal(op.Value, &v); err != nil {
		return nil, fmt.Errorf("op %d: value %q is not a list of integers: %w", op.Index, op.Value, err)
	}
	return v, nil
}

// CasValue decodes Value as a cas argument [expected, new].
func (op Op) CasValue() (expected, next int64, err error) {
	var v []int64
	err = json.Unmarshal(op.Value, &v)
	if err == nil && len(v) != 2 {
		err = fmt.Errorf("%d elements, want 2", len(v))
	}
	if err != nil {
		return 0, 0, fmt.Errorf("op %d: value %q is not a cas argument [expected, new]: %w", op.Index, op.Value, err)
	}
	return v[0], v[1], nil
}

// Cas encodes a cas argument [expected, new].
func Cas(expected, next int64) json.RawMessage { return Ints([]int64{expected, next}) }

// Int encodes an integer operation value.
func Int(v int64) json.RawMessage { return json.RawMessage(fmt.Sprint(v)) }

// Ints encodes a list of integers; nil encodes as [].
func Ints(vs []int64) json.RawMessage {
	if vs == nil {
		vs = []int64{}
	}
	b, _ := json.Marshal(vs)
	return b
}

// JSON encodes any value, for nemesis event descriptions.
func JSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(err.Error())
	}
	return b
}

// FScale is an autoscaler's record, of NemesisProcess: Value is a Scale.
const FScale = "scale"

// Scale is what an autoscaler did at one moment: an observation (Phase
// "observe", with the ring's size and each node's load) or a ring change
// it decided ("start", then "done" or "failed").
type Scale struct {
	Phase  string `json:"phase"`
	Action string `json:"action,omitempty"` // add | remove
	Node   string `json:"node,omitempty"`
	Reason string `json:"reason"`
	// Nodes is the ring's size when observed or decided.
	Nodes int `json:"nodes"`
	// Load is each node's coordinated requests/s over the last interval.
	Load  map[string]float64 `json:"load,omitempty"`
	Error string             `json:"error,omitempty"`
}

// FConverge is a replica-convergence record, of NemesisProcess, made after
// the final heal and recovery: Key is a key the workload touched, Value a
// Convergence. FHints is one node's count of undelivered hints then, Value
// a Hints. FMerkle is the Merkle roots of one group of token ranges on
// each of its replicas, Value a MerkleRoots.
const (
	FConverge = "converge"
	FHints    = "hints"
	FMerkle   = "merkle"
)

// MerkleRoots is the root of each replica's Merkle tree over token ranges
// that all of them replicate, read from each directly.
type MerkleRoots struct {
	Ranges int    `json:"ranges"` // how many token ranges the group has
	Roots  []Root `json:"roots"`
}

// Root is one replica's Merkle root over a group's ranges.
type Root struct {
	Node  string `json:"node"`
	Root  string `json:"root,omitempty"` // hex
	Keys  uint64 `json:"keys"`
	Error string `json:"error,omitempty"`
}

// Convergence is what each home replica of a key holds, read directly
// from each (not through a coordinator).
type Convergence struct {
	Replicas map[string]Replica `json:"replicas"`
	// Waited is how long the harness waited for the replicas to agree,
	// in seconds.
	Waited float64 `json:"waited_s"`
}

// Replica is one replica's stored state of a key.
type Replica struct {
	// Digest identifies the whole version set (values and version
	// metadata); equal digests are equal sets.
	Digest string `json:"digest,omitempty"`
	// Values are the live sibling values; none if the key is absent or
	// deleted.
	Values []string `json:"values,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// Hints is a node's undelivered hints after recovery, and its counters of
// hints stored and delivered since it last started.
type Hints struct {
	Node      string `json:"node"`
	Hints     uint64 `json:"hints"`
	Stored    uint64 `json:"stored,omitempty"`
	Delivered uint64 `json:"delivered,omitempty"`
	Error     string `json:"error,omitempty"`
}

// FModel is a record, of NemesisProcess, of what the register checker must
// hold the history to; Value is a Model. Without one, registers are checked
// for linearizability.
const FModel = "model"

// Model names the register guarantee a run claims.
type Model struct {
	// Register is "linearizable" or "single-writer": each key has one
	// writing client, and no read may return a value older than a write
	// completed before the read began (lww's promise without clock
	// faults); reads of writes still in flight may disagree.
	Register string `json:"register"`
	// Set is "deletes-final" when the quorums are strict (R + W > N, no
	// sloppy quorum, no clock fault under lww) and no tombstone is
	// collected within the run: an element whose add
	// completed before an acknowledged delete began, with no add
	// overlapping that delete, must never be read again. Otherwise ""
	// and such a read is reported, not judged: a stale read may carry it
	// back legitimately.
	Set string `json:"set,omitempty"`
}

// Register models.
const (
	ModelLinearizable = "linearizable"
	ModelSingleWriter = "single-writer"
	// ModelDeletesFinal is the set model above.
	ModelDeletesFinal = "deletes-final"
)

// RegisterModel is the register model a history's FModel record claims;
// linearizable if it has none.
func RegisterModel(ops []Op) string {
	if m := recordedModel(ops); m.Register != "" {
		return m.Register
	}
	return ModelLinearizable
}

// SetModel returns the set model a history claims: ModelDeletesFinal or "".
func SetModel(ops []Op) string { return recordedModel(ops).Set }

// recordedModel is the history's model record, if any.
func recordedModel(ops []Op) Model {
	for _, op := range ops {
		if op.IsNemesis() && op.F == FModel {
			var m Model
			if json.Unmarshal(op.Value, &m) == nil {
				return m
			}
		}
	}
	return Model{}
}
