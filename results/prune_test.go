package results

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestPrune(t *testing.T) {
	store := t.TempDir()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	mk := func(age time.Duration, verdict string, data bool) string {
		dir := filepath.Join(store, "register", now.Add(-age).Format("20060102T150405.000Z"))
		if err := os.MkdirAll(filepath.Join(dir, "data", "n1"), 0o755); err != nil {
			t.Fatal(err)
		}
		if !data {
			os.RemoveAll(filepath.Join(dir, "data"))
		}
		if verdict != "" {
			os.WriteFile(filepath.Join(dir, ResultsFile), []byte(`{"verdict":"`+verdict+`"}`), 0o644)
		}
		return dir
	}
	old := mk(10*24*time.Hour, "valid", false)
	valid := mk(time.Hour, "valid", true)
	invalid := mk(2*time.Hour, "invalid", true)
	live := mk(3*time.Hour, "", true)
	unchecked := mk(4*time.Hour, "", true) // killed before its check
	if err := os.Symlink("register/gone", filepath.Join(store, LatestLink)); err != nil {
		t.Fatal(err)
	}
	dataDir := func(dir string) string { return filepath.Join(dir, "data") }
	got, err := Prune(store, 7*24*time.Hour, now, func(dir string) bool { return dir == live }, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Runs, []string{old}) {
		t.Errorf("removed runs %v, want %v", got.Runs, []string{old})
	}
	slices.Sort(got.DataDirs)
	want := []string{dataDir(valid), dataDir(unchecked)}
	slices.Sort(want)
	if !slices.Equal(got.DataDirs, want) {
		t.Errorf("removed data dirs %v, want %v", got.DataDirs, want)
	}
	for _, keep := range []string{dataDir(invalid), dataDir(live)} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s removed: %v", keep, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(store, LatestLink)); !os.IsNotExist(err) {
		t.Errorf("dangling latest link kept: %v", err)
	}
}
