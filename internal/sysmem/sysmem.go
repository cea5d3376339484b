// Package sysmem tells how much memory this process may use: the machine's,
// or its cgroup's limit if that is lower.
package sysmem

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Total is the memory available to this process, in bytes.
func Total() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("machine memory: %w", err)
	}
	defer f.Close()
	total, err := memTotal(bufio.NewScanner(f))
	if err != nil {
		return 0, err
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && limit > 0 {
			total = min(total, limit) // "max" (no limit) does not parse
		}
	}
	return total, nil
}

func memTotal(s *bufio.Scanner) (int64, error) {
	for s.Scan() {
		// MemTotal:       24578220 kB
		f := strings.Fields(s.Text())
		if len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/meminfo: %q: %w", s.Text(), err)
			}
			return kb << 10, nil
		}
	}
	if err := s.Err(); err != nil {
		return 0, fmt.Errorf("/proc/meminfo: %w", err)
	}
	return 0, fmt.Errorf("/proc/meminfo: no MemTotal line")
}
