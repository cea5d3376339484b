package history

import (
	"bytes"
	"testing"
)

// FuzzReadPair: a history is outside bytes (a stored run, a user's file).
// Reading and pairing never panic, and what Read accepts has strictly
// increasing indices and no negative time.
func FuzzReadPair(f *testing.F) {
	f.Add([]byte(`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","key":"k"}` + "\n" +
		`{"index":1,"time":2,"process":0,"type":"ok","f":"read","key":"k","value":[1]}` + "\n"))
	f.Add([]byte(`{"index":0,"time":1,"process":-1,"type":"info","f":"start-partition","value":{"grudge":{}}}`))
	f.Add([]byte(`{"index":0,"time":1,"process":0,"type":"invoke","f":"cas","key":"k","value":[1,4]}` + "\n" +
		`{"index":1,"time":2,"process":0,"type":"fail","f":"cas","key":"k","value":[1,4]}` + "\n"))
	f.Add([]byte("\n\n{"))
	f.Add([]byte(`{"index":1,"time":2,"process":0,"type":"ok","f":"write"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, _, err := Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		for i, op := range ops {
			if op.Time < 0 || i > 0 && op.Index <= ops[i-1].Index {
				t.Fatalf("Read accepted op %d: %+v", i, op)
			}
		}
		pairs, err := Pair(ops)
		if err != nil {
			return
		}
		for _, p := range pairs {
			if p.Invoke == nil || p.Completion == nil || p.Completion.Time < p.Invoke.Time {
				t.Fatalf("pair %+v", p)
			}
		}
		Faults(ops)
	})
}

// FuzzReadJepsenLog: a Jepsen log is outside bytes too. What ReadJepsenLog
// accepts has strictly increasing indices and pairs.
func FuzzReadJepsenLog(f *testing.F) {
	f.Add([]byte("INFO  jepsen.util - 1\t:invoke\t:cas\t[1 4]\nINFO  jepsen.util - 1\t:ok\t:cas\t[1 4]\n"))
	f.Add([]byte("INFO  jepsen.util - 0 :invoke :read nil\nINFO  jepsen.util - 0 :fail :read :timed-out\nINFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"))
	f.Add([]byte("INFO  jepsen.util - 2\t:invoke\t:write\t3\r\nINFO  jepsen.util - 2\t:info\t:write\t:timed-out"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, _, err := ReadJepsenLog(bytes.NewReader(b))
		if err != nil {
			return
		}
		for i, op := range ops {
			if op.Time < 0 || op.IsNemesis() || i > 0 && op.Index <= ops[i-1].Index {
				t.Fatalf("ReadJepsenLog accepted op %d: %+v", i, op)
			}
		}
		if _, err := Pair(ops); err != nil {
			t.Fatalf("ReadJepsenLog accepted ops that do not pair: %v", err)
		}
	})
}
