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

// ReadFile reads the history at path; see Read.
func ReadFile(path string) ([]Op, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	defer f.Close()
	ops, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ops, nil
}

// Read parses a JSONL history. A last line that is cut short (no newline and
// not valid JSON) is dropped, since that is what a killed writer leaves; any
// other bad line is an error naming its line number. Blank lines are allowed
// only at the end.
func Read(r io.Reader) ([]Op, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		ops   []Op
		blank int // line number of the first blank line in a run, 0 if none
	)
	for n := 1; ; n++ {
		// ReadBytes, not a Scanner: a line can be longer than any fixed limit.
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		complete := err == nil
		if len(line) == 0 && !complete {
			return ops, nil // clean EOF
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if blank == 0 {
				blank = n
			}
			if !complete {
				return ops, nil
			}
			continue
		}
		if blank != 0 {
			return nil, fmt.Errorf("line %d: blank line inside the history", blank)
		}
		var op Op
		if uerr := json.Unmarshal(line, &op); uerr != nil {
			if !complete {
				return ops, nil // truncated last line
			}
			return nil, fmt.Errorf("line %d: %w", n, uerr)
		}
		switch op.Type {
		case Invoke, OK, Fail, Info:
		default:
			return nil, fmt.Errorf("line %d: unknown op type %q", n, op.Type)
		}
		ops = append(ops, op)
		if !complete {
			return ops, nil
		}
	}
}
