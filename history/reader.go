package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ReadFile reads the history at path; see Read. The file is read twice,
// first to count its lines, so that a long history is held in one
// allocation.
func ReadFile(path string) ([]Op, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read history: %w", err)
	}
	defer f.Close()
	lines, err := countLines(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	ops, warnings, err := read(f, lines+1)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return ops, warnings, nil
}

func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 256<<10)
	n := 0
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// Read parses a JSONL history. A last line that is cut short (no newline and
// not valid JSON) is dropped with a warning, since that is what a killed
// writer leaves; any other bad line is an error naming its line number:
// malformed JSON, an unknown type, an index not above the previous one, a
// negative time. Blank lines are allowed only at the end.
func Read(r io.Reader) ([]Op, []string, error) { return read(r, 0) }

// maxInterned bounds the distinct strings read shares, so that a history of
// unique error messages cannot grow the table without end.
const maxInterned = 1 << 16

func read(r io.Reader, capacity int) ([]Op, []string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		ops      = make([]Op, 0, capacity)
		warnings []string
		blank    int // line number of the first blank line in a run, 0 if none
		long     []byte
		prev     int64 = -1
	)
	// Field values repeat (types, fs, keys, nodes, errors): share one copy.
	strs := make(map[string]string)
	intern := func(s string) string {
		if t, ok := strs[s]; ok {
			return t
		}
		if len(strs) < maxInterned {
			strs[s] = s
		}
		return s
	}
	for n := 1; ; n++ {
		// ReadSlice, not a Scanner: no copy per line, and a line can be
		// longer than the buffer.
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
		complete := err == nil
		if len(line) == 0 && !complete {
			return ops, warnings, nil // clean EOF
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if blank == 0 {
				blank = n
			}
			if !complete {
				return ops, warnings, nil
			}
			continue
		}
		if blank != 0 {
			return nil, nil, fmt.Errorf("line %d: blank line inside the history", blank)
		}
		var op Op
		if uerr := json.Unmarshal(line, &op); uerr != nil {
			if !complete {
				warnings = append(warnings, fmt.Sprintf("line %d: the last line is cut short (%d bytes, no newline) and was left out", n, len(line)))
				return ops, warnings, nil
			}
			return nil, nil, fmt.Errorf("line %d: %w", n, uerr)
		}
		switch op.Type {
		case Invoke, OK, Fail, Info:
		default:
			return nil, nil, fmt.Errorf("line %d: unknown op type %q", n, op.Type)
		}
		if op.Index <= prev {
			return nil, nil, fmt.Errorf("line %d: index %d does not follow index %d: indices must strictly increase", n, op.Index, prev)
		}
		if op.Time < 0 {
			return nil, nil, fmt.Errorf("line %d: negative time %d", n, op.Time)
		}
		prev = op.Index
		op.Type, op.F, op.Key, op.Node, op.Error = Type(intern(string(op.Type))), intern(op.F), intern(op.Key), intern(op.Node), intern(op.Error)
		ops = append(ops, op)
		if !complete {
			return ops, warnings, nil
		}
	}
}
