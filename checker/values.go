package checker

import (
	"github.com/quorumlab/quorumlab/history"
)

// maxExamples bounds the example lists in results.
const maxExamples = 20

// intValue decodes op.Value as an integer. Values are decoded for every op of
// a long history, so the common plain form skips encoding/json.
func intValue(op *history.Op) (int64, error) {
	if v, rest, ok := scanInt(op.Value); ok && len(trimSpace(rest)) == 0 {
		return v, nil
	}
	return op.IntValue()
}

// intsValue decodes op.Value as a list of integers, like op.IntsValue.
func intsValue(op *history.Op) ([]int64, error) {
	b := trimSpace(op.Value)
	if len(b) >= 2 && b[0] == '[' && b[len(b)-1] == ']' {
		if vs, ok := scanInts(b[1 : len(b)-1]); ok {
			return vs, nil
		}
	}
	return op.IntsValue()
}

// casValue decodes op.Value as a cas argument [expected, new], like
// op.CasValue.
func casValue(op *history.Op) (expected, next int64, err error) {
	if vs, err := intsValue(op); err == nil && len(vs) == 2 {
		return vs[0], vs[1], nil
	}
	return op.CasValue()
}

func scanInts(b []byte) ([]int64, bool) {
	vs := []int64{}
	b = trimSpace(b)
	if len(b) == 0 {
		return vs, true
	}
	for {
		v, rest, ok := scanInt(b)
		if !ok {
			return nil, false
		}
		vs = append(vs, v)
		rest = trimSpace(rest)
		if len(rest) == 0 {
			return vs, true
		}
		if rest[0] != ',' {
			return nil, false
		}
		b = rest[1:]
	}
}

// scanInt reads a decimal integer after optional spaces. It rejects what it
// cannot handle exactly (exponents, overflow); callers then fall back to
// encoding/json.
func scanInt(b []byte) (v int64, rest []byte, ok bool) {
	b = trimSpace(b)
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i >= 18 {
			return 0, nil, false
		}
		v = v*10 + int64(b[i]-'0')
	}
	if i == 0 || (i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E')) {
		return 0, nil, false
	}
	if neg {
		v = -v
	}
	return v, b[i:], true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// share is n/total, or 0 when there is nothing to share.
func share(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// ms converts nanoseconds to milliseconds.
func ms(ns int64) float64 { return float64(ns) / 1e6 }
