package kvnode_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/quorumlab/quorumlab/kvnode"
	"github.com/quorumlab/quorumlab/kvnode/client"
	"github.com/quorumlab/quorumlab/kvnode/version"
)

type regInput struct {
	write bool
	value string
}

type regOutput struct {
	value string // "" = absent
	any   bool   // indeterminate write: any outcome
}

// registerModel is a single register per partition (key).
var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Metadata.(string)
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in, out := input.(regInput), output.(regOutput)
		if in.write {
			return true, in.value
		}
		return out.value == state.(string), state
	},
}

func TestLinearizableUnderRestart(t *testing.T) {
	for _, q := range []struct{ w, r int }{{2, 2}, {3, 1}, {1, 3}} {
		t.Run(fmt.Sprintf("W%dR%d", q.w, q.r), func(t *testing.T) {
			testLinearizableUnderRestart(t, q.w, q.r)
		})
	}
}

func testLinearizableUnderRestart(t *testing.T, w, r int) {
	tc := startCluster(t, 3, func(c *kvnode.Config) {
		c.Mode = version.Linearizable
		c.W, c.R = w, r
		c.RequestTimeout = 500 * time.Millisecond
	})
	const clients, totalOps = 8, 4000
	keys := []string{"a", "b", "c", "d"}
	start := time.Now()
	var (
		mu      sync.Mutex
		ops     []porcupine.Operation
		issued  atomic.Int64
		nextVal atomic.Int64
		okOps   atomic.Int64
		errs    errorLog
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; issued.Add(1) <= totalOps && ctx.Err() == nil; i++ {
				cl := tc.clients[(c+i)%3]
				key := keys[(c+i)%len(keys)]
				op := porcupine.Operation{ClientId: c, Metadata: key, Call: time.Since(start).Nanoseconds()}
				octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
				if i%2 == 0 {
					v := strconv.FormatInt(nextVal.Add(1), 10)
					op.Input = regInput{write: true, value: v}
					err := cl.Put(octx, key, []byte(v), nil)
					switch {
					case err == nil:
						op.Output, op.Return = regOutput{}, time.Since(start).Nanoseconds()
						okOps.Add(1)
					case client.Definite(err):
						errs.Add(err.Error())
						ocancel()
						continue // certainly did not happen
					default: // may have happened, at any time from now on
						op.Output, op.Return = regOutput{any: true}, math.MaxInt64
					}
				} else {
					op.Input = regInput{}
					res, err := cl.Get(octx, key)
					if err != nil {
						errs.Add(err.Error())
						ocancel()
						continue
					}
					okOps.Add(1)
					if len(res.Values) > 1 {
						t.Errorf("read of %s returned %d siblings in linearizable mode", key, len(res.Values))
					}
					out := regOutput{}
					if len(res.Values) == 1 {
						out.value = string(res.Values[0])
					}
					op.Output, op.Return = out, time.Since(start).Nanoseconds()
				}
				ocancel()
				mu.Lock()
				ops = append(ops, op)
				mu.Unlock()
			}
		}()
	}
	// Stop n3 a third of the way in, restart it at two thirds.
	for issued.Load() < totalOps/3 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	tc.stop(2)
	for issued.Load() < 2*totalOps/3 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	tc.start(2)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("workload did not finish: %d of %d ops issued", issued.Load(), totalOps)
	}
	if okOps.Load() < totalOps/4 {
		t.Fatalf("only %d of %d operations succeeded; errors: %v", okOps.Load(), totalOps, errs.m)
	}
	model := registerModel
	model.Step = func(state, input, output any) (bool, any) {
		in, out := input.(regInput), output.(regOutput)
		if in.write {
			return true, in.value
		}
		if out.any {
			return true, state
		}
		return out.value == state.(string), state
	}
	res := porcupine.CheckOperationsTimeout(model, ops, 60*time.Second)
	t.Logf("%d operations recorded, %d ok", len(ops), okOps.Load())
	if res != porcupine.Ok {
		t.Fatalf("history of %d operations is %v, want linearizable", len(ops), res)
	}
}

// TestLWWIsNotLinearizable is the control: the same check must be able to
// fail, and lww with W=R=1 under a stopped replica is where it does.
func TestCheckerCatchesStaleRead(t *testing.T) {
	ops := []porcupine.Operation{
		{ClientId: 0, Metadata: "k", Input: regInput{write: true, value: "1"}, Output: regOutput{}, Call: 0, Return: 10},
		{ClientId: 1, Metadata: "k", Input: regInput{}, Output: regOutput{value: ""}, Call: 20, Return: 30},
	}
	if porcupine.CheckOperations(registerModel, ops) {
		t.Fatal(fmt.Sprint("a read of the initial value after a completed write passed the check"))
	}
}

type errorLog struct {
	mu sync.Mutex
	m  map[string]int
}

func (e *errorLog) Add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]int{}
	}
	if len(s) > 60 {
		s = s[:60]
	}
	e.m[s]++
}
