package history

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// JepsenKey is the key a Jepsen log's register is read into: the classic
// logs hold one register and name no key.
const JepsenKey = "r"

// jepsenOpLine finds the operation part of a line that jepsen.util logged:
// "INFO  jepsen.util - 3	:invoke	:cas	[1 4]". Anything may precede the
// logger's name (a level, a timestamp).
var jepsenOpLine = regexp.MustCompile(`(?:^|\s)jepsen\.util\s+-\s+(.*)$`)

// ReadJepsenLog reads the classic Jepsen log of a single register, as in
// porcupine's and Knossos's etcd test data, into client operations on
// JepsenKey. An operation line is
//
//	... jepsen.util - PROCESS TYPE F VALUE
//
// with fields apart by tabs or spaces: PROCESS a number, or :nemesis (those
// lines are skipped); TYPE :invoke, :ok, :fail or :info; F :read, :write or
// :cas; VALUE nil (a read's invocation, a read of the initial value), an
// integer (a write, a read's result) or [expected new] (a cas). A failed
// or indeterminate completion may carry a keyword such as :timed-out
// instead; it becomes the op's Error and the value is the invocation's.
// Other lines are skipped; a line that looks like an operation line (a
// process or a type where they belong) but does not parse is an error
// naming its line number, and so is a completion that matches no
// invocation of its process.
//
// The log has no clock: an op's index and time are its line number, which
// keeps the order of the log, so latencies are counted in lines.
func ReadJepsenLog(r io.Reader) ([]Op, []string, error) {
	type open struct {
		line  int
		f     string
		value string // as logged
	}
	var (
		ops     []Op
		nemesis int
		pending = make(map[int]open) // process -> its outstanding invocation
	)
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
		if line == "" && err != nil {
			break
		}
		op, skip, perr := parseJepsenLine(strings.TrimRight(line, "\r\n"))
		switch {
		case perr != nil:
			return nil, nil, fmt.Errorf("line %d: %w", n, perr)
		case skip == skipNemesis:
			nemesis++
		case skip == skipOther:
		default:
			op.Index, op.Time, op.Key = int64(n), int64(n), JepsenKey
			inv, busy := pending[op.Process]
			if op.Type == Invoke {
				if busy {
					return nil, nil, fmt.Errorf("line %d: process %d invokes while its operation of line %d is outstanding", n, op.Process, inv.line)
				}
				pending[op.Process] = open{n, op.F, string(op.Value)}
				ops = append(ops, op)
				break
			}
			if !busy {
				return nil, nil, fmt.Errorf("line %d: process %d completes an operation it never invoked", n, op.Process)
			}
			if op.F != inv.f {
				return nil, nil, fmt.Errorf("line %d: process %d completes %s, but invoked %s on line %d", n, op.Process, op.F, inv.f, inv.line)
			}
			switch {
			case op.Value == nil && op.F != FRead:
				op.Value = []byte(inv.value) // a keyword: the invocation's value
			case op.Value != nil && op.F != FRead && string(op.Value) != inv.value:
				return nil, nil, fmt.Errorf("line %d: process %d completes %s %s, but invoked it with %s on line %d", n, op.Process, op.F, op.Value, inv.value, inv.line)
			}
			delete(pending, op.Process)
			ops = append(ops, op)
		}
		if err != nil {
			break
		}
	}
	warnings := []string{"a Jepsen log has no clock: times are line numbers, so latencies and rates count lines, not time"}
	if nemesis > 0 {
		warnings = append(warnings, fmt.Sprintf("%d :nemesis lines were skipped: the results show no fault periods", nemesis))
	}
	return ops, warnings, nil
}

type jepsenSkip int

const (
	skipNone jepsenSkip = iota
	skipOther
	skipNemesis
)

// parseJepsenLine parses one line of a Jepsen log into an op without index,
// time or key, or says why it is skipped.
func parseJepsenLine(line string) (Op, jepsenSkip, error) {
	m := jepsenOpLine.FindStringSubmatch(line)
	if m == nil {
		return Op{}, skipOther, nil
	}
	proc, rest := nextField(m[1])
	ty, rest := nextField(rest)
	fn, rest := nextField(rest)
	raw := strings.TrimSpace(rest) // the value: a cas's [1 4] holds a space
	process, perr := strconv.Atoi(proc)
	typ, typed := jepsenTypes[ty]
	switch {
	case proc == ":nemesis":
		return Op{}, skipNemesis, nil
	case perr != nil && !typed:
		return Op{}, skipOther, nil // some other message of jepsen.util
	case perr != nil || process < 0:
		return Op{}, skipNone, fmt.Errorf("process %q is not a number", proc)
	case !typed:
		return Op{}, skipNone, fmt.Errorf("unknown type %q (want :invoke, :ok, :fail or :info)", ty)
	}
	f, ok := jepsenFs[fn]
	if !ok {
		return Op{}, skipNone, fmt.Errorf("unsupported operation %q (want :read, :write or :cas)", fn)
	}
	op := Op{Process: process, Type: typ, F: f}
	if strings.HasPrefix(raw, ":") && (typ == Fail || typ == Info) {
		// :timed-out and the like: why it failed or is unknown.
		op.Error = strings.TrimPrefix(raw, ":")
		return op, skipNone, nil
	}
	var err error
	switch {
	case raw == "":
		err = errors.New("no value (want nil, an integer or [expected new])")
	case f == FRead && typ == Invoke:
		if raw != "nil" {
			err = errors.New("a read is invoked with nil")
		}
	case f == FRead:
		if raw == "nil" {
			op.Value = Ints(nil) // the initial value: nothing written yet
			break
		}
		var v int64
		if v, err = strconv.ParseInt(raw, 10, 64); err == nil {
			op.Value = Ints([]int64{v})
		}
	case f == FWrite:
		var v int64
		if v, err = strconv.ParseInt(raw, 10, 64); err == nil {
			op.Value = Int(v)
		}
	default: // FCas
		var e, v int64
		if e, v, err = jepsenPair(raw); err == nil {
			op.Value = Cas(e, v)
		}
	}
	if err != nil {
		return Op{}, skipNone, fmt.Errorf("%s %s %q: %w", ty, fn, raw, err)
	}
	if f == FRead && (typ == Fail || typ == Info) {
		op.Value = nil // the result of a read that did not return says nothing
	}
	return op, skipNone, nil
}

// nextField splits the first tab- or space-separated field off s.
func nextField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t")
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

var (
	jepsenTypes = map[string]Type{":invoke": Invoke, ":ok": OK, ":fail": Fail, ":info": Info}
	jepsenFs    = map[string]string{":read": FRead, ":write": FWrite, ":cas": FCas}
)

// jepsenPair parses a cas argument as Clojure prints it: [1 4].
func jepsenPair(s string) (int64, int64, error) {
	inner, open := strings.CutPrefix(s, "[")
	inner, closed := strings.CutSuffix(inner, "]")
	if !open || !closed {
		return 0, 0, errors.New("want [expected new]")
	}
	parts := strings.FieldsFunc(inner, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
	if len(parts) != 2 {
		return 0, 0, errors.New("want [expected new]")
	}
	e, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return 0, 0, err
	}
	v, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return 0, 0, err
	}
	return e, v, nil
}
