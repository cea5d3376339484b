package history

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestReadJepsenLog(t *testing.T) {
	log := "INFO  jepsen.core - Worker 0 starting\n" +
		"INFO  jepsen.util - 0\t:invoke\t:read\tnil\n" +
		"INFO  jepsen.util - 1 :invoke :cas [1 4]\r\n" + // spaces, CRLF
		"INFO  jepsen.util - :nemesis\t:info\t:start\t\"Cut off {:n1 #{:n2}}\"\n" +
		"INFO  jepsen.util - 0\t:ok\t:read\tnil\n" +
		"INFO  jepsen.util - 1\t:fail\t:cas\t[1 4]\n" +
		"\n" +
		"INFO  jepsen.util - 2\t:invoke\t:write\t3\n" +
		"INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n" +
		"INFO  jepsen.util - 0\t:invoke\t:read\tnil\n" +
		"INFO  jepsen.util - 0\t:fail\t:read\t:timed-out\n" +
		"INFO  jepsen.util - 7\t:invoke\t:read\tnil\n" +
		"INFO  jepsen.util - 7\t:ok\t:read\t3\n" +
		"INFO  jepsen.util - 1\t:invoke\t:cas\t[3 -2]" // no newline at the end
	ops, warnings, err := ReadJepsenLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	k := JepsenKey
	want := []Op{
		{Index: 2, Time: 2, Process: 0, Type: Invoke, F: FRead, Key: k},
		{Index: 3, Time: 3, Process: 1, Type: Invoke, F: FCas, Key: k, Value: Cas(1, 4)},
		{Index: 5, Time: 5, Process: 0, Type: OK, F: FRead, Key: k, Value: Ints(nil)},
		{Index: 6, Time: 6, Process: 1, Type: Fail, F: FCas, Key: k, Value: Cas(1, 4)},
		{Index: 8, Time: 8, Process: 2, Type: Invoke, F: FWrite, Key: k, Value: Int(3)},
		{Index: 9, Time: 9, Process: 2, Type: Info, F: FWrite, Key: k, Value: Int(3), Error: "timed-out"},
		{Index: 10, Time: 10, Process: 0, Type: Invoke, F: FRead, Key: k},
		{Index: 11, Time: 11, Process: 0, Type: Fail, F: FRead, Key: k, Error: "timed-out"},
		{Index: 12, Time: 12, Process: 7, Type: Invoke, F: FRead, Key: k},
		{Index: 13, Time: 13, Process: 7, Type: OK, F: FRead, Key: k, Value: Ints([]int64{3})},
		{Index: 14, Time: 14, Process: 1, Type: Invoke, F: FCas, Key: k, Value: Cas(3, -2)},
	}
	if !reflect.DeepEqual(ops, want) {
		t.Fatalf("ops:\n%+v\nwant:\n%+v", ops, want)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[1], "1 :nemesis line") {
		t.Errorf("warnings %q", warnings)
	}
	pairs, err := Pair(ops)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 6 || pairs[5].Completed() {
		t.Errorf("pairs %+v: want 6, the last open", pairs)
	}
	if e, v, err := ops[1].CasValue(); err != nil || e != 1 || v != 4 {
		t.Errorf("CasValue: %d %d %v", e, v, err)
	}
}

func TestReadJepsenLogErrors(t *testing.T) {
	const pre = "INFO  jepsen.util - "
	ok := pre + "0\t:invoke\t:write\t1\n" + pre + "0\t:ok\t:write\t1\n"
	tests := []struct {
		name, log, want string
	}{
		{"bad write value", ok + pre + "1\t:invoke\t:write\tx\n", "line 3: :invoke :write \"x\""},
		{"unknown type", ok + pre + "1\t:invok\t:read\tnil\n", "line 3: unknown type"},
		{"process not a number", pre + "n1\t:invoke\t:read\tnil\n", "line 1: process \"n1\""},
		{"unsupported operation", pre + "1\t:invoke\t:add\t1\n", "line 1: unsupported operation \":add\""},
		{"cas of one value", pre + "1\t:invoke\t:cas\t[1]\n", "line 1: :invoke :cas \"[1]\": want [expected new]"},
		{"cas without brackets", pre + "1\t:invoke\t:cas\t1 4\n", "line 1: :invoke :cas"},
		{"no value", pre + "1\t:invoke\t:write\n", "line 1: :invoke :write \"\": no value"},
		{"read invoked with a value", pre + "1\t:invoke\t:read\t3\n", "line 1: :invoke :read \"3\""},
		{"ok read of a keyword", pre + "1\t:invoke\t:read\tnil\n" + pre + "1\t:ok\t:read\t:timed-out\n", "line 2: :ok :read"},
		{"completion without invocation", ok + pre + "4\t:ok\t:read\tnil\n", "line 3: process 4 completes an operation it never invoked"},
		{"invocation while outstanding", pre + "1\t:invoke\t:read\tnil\n" + pre + "1\t:invoke\t:read\tnil\n", "line 2: process 1 invokes while its operation of line 1 is outstanding"},
		{"completion of another f", pre + "1\t:invoke\t:read\tnil\n" + pre + "1\t:ok\t:write\t1\n", "line 2: process 1 completes write, but invoked read on line 1"},
		{"completion of another value", pre + "1\t:invoke\t:cas\t[1 2]\n" + pre + "1\t:ok\t:cas\t[1 3]\n", "line 2: process 1 completes cas [1,3], but invoked it with [1,2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadJepsenLog(strings.NewReader(tt.log))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestReadJepsenLogFiles reads the committed logs, which the checker and
// the check command test for their verdicts.
func TestReadJepsenLogFiles(t *testing.T) {
	for name, want := range map[string]int{"linearizable.log": 18, "lost-update.log": 8, "timeouts.log": 17, "timeouts-stale.log": 17} {
		f, err := os.Open("testdata/jepsen/" + name)
		if err != nil {
			t.Fatal(err)
		}
		ops, _, err := ReadJepsenLog(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(ops) != want {
			t.Errorf("%s: %d ops, want %d", name, len(ops), want)
		}
		if _, err := Pair(ops); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
