package results

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quorumlab/quorumlab/checker"
	"github.com/quorumlab/quorumlab/history"
)

// TestBrowserRendersPages loads the served index, a report and a
// comparison in headless Chromium and checks the screenshots show a page:
// the SVG plots and tables draw many non-white pixels in many colours, where
// a broken page (a parse error, a 404, a plot the browser rejects) is
// mostly blank. Skipped when no Chromium is installed (.ci/run installs
// Debian's).
func TestBrowserRendersPages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no chromium on PATH (apt-get install chromium)")
	}
	if isSnap(bin) {
		t.Skip("chromium is a snap, which cannot see this test's /tmp")
	}
	url, store, runDir, cmpDir := serveStore(t)
	busyDir := busyRun(t, store)
	runPath := "/" + filepath.ToSlash(mustRel(t, store, runDir))
	busyPath := "/" + filepath.ToSlash(mustRel(t, store, busyDir))
	cmpPath := "/" + filepath.ToSlash(mustRel(t, store, cmpDir))
	// Negative controls: a page without its plots must fall short of the
	// page's bounds, or the bounds prove nothing about the plots.
	for _, f := range []string{filepath.Join(runDir, "report.html"), filepath.Join(busyDir, "report.html"), filepath.Join(cmpDir, "compare.html")} {
		page, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		plain := regexp.MustCompile(`(?s)<svg.*?</svg>`).ReplaceAll(page, nil)
		if err := os.WriteFile(strings.TrimSuffix(f, ".html")+"-plain.html", plain, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	pages := []struct {
		name, path string
		// Least shares of non-white and of coloured pixels.
		minInk, minColour float64
		blank             bool // the page must fall short of the bounds
	}{
		{"index", "/", 0.01, 0.0005, false},
		{"report", runPath + "/report.html", 0.12, 0.0025, false},
		{"report without plots", runPath + "/report-plain.html", 0.12, 0.0025, true},
		// Thousands of operations: the data points carry the colour.
		{"busy report", busyPath + "/report.html", 0.12, 0.01, false},
		{"busy report without plots", busyPath + "/report-plain.html", 0.12, 0.01, true},
		{"comparison", cmpPath + "/compare.html", 0.05, 0.015, false},
		{"comparison without plots", cmpPath + "/compare-plain.html", 0.05, 0.015, true},
	}
	for _, pg := range pages {
		t.Run(pg.name, func(t *testing.T) {
			shot := filepath.Join(t.TempDir(), "shot.png")
			if d := os.Getenv("QUORUMLAB_SHOTS"); d != "" {
				shot = filepath.Join(d, strings.ReplaceAll(pg.name, " ", "-")+".png")
				os.Remove(shot)
			}
			screenshot(t, bin, url+pg.path, shot)
			ink, colour := inkAndColour(t, shot)
			t.Logf("%s: %.2f %% non-white, %.2f %% coloured", pg.path, 100*ink, 100*colour)
			short := ink < pg.minInk || colour < pg.minColour
			if pg.blank && !short {
				t.Errorf("%s passes the bounds without plots: %.2f %% non-white, %.2f %% coloured", pg.path, 100*ink, 100*colour)
			}
			if !pg.blank && short {
				t.Errorf("%s renders nearly blank: %.2f %% non-white pixels (want ≥ %.2f %%), %.2f %% coloured (want ≥ %.2f %%)",
					pg.path, 100*ink, 100*pg.minInk, 100*colour, 100*pg.minColour)
			}
		})
	}
}

// busyRun stores a checked run of 4000 operations of 10 clients, reads and
// writes with spread latencies and a few failures, and returns its dir.
func busyRun(t *testing.T, store string) string {
	t.Helper()
	var b builder
	b.nemesis(10_000, "start-partition")
	for i := range 4000 {
		out, f := history.OK, history.FRead
		if i%2 == 0 {
			f = history.FWrite
		}
		if i%97 == 0 {
			out = history.Fail
		}
		b.op(i%10, f, "k", float64(i/10)*50, 1+float64(i*7%40), out, history.Int(int64(i)), history.Ints([]int64{int64(i)}))
	}
	b.nemesis(14_000, "stop-partition")
	ops := b.sorted()
	dir, err := NewRunDir(store, "busy", time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	measured := checker.Check(context.Background(), ops, checker.Options{Workload: "ycsb"})
	res := checker.Results{Verdict: checker.Valid, Latency: measured.Latency, Stats: measured.Stats}
	if err := WriteReport(dir, ops, res); err != nil {
		t.Fatal(err)
	}
	return dir
}

// isSnap reports whether bin starts a snap: a link to /usr/bin/snap, a
// binary under /snap, or a wrapper script that runs one.
func isSnap(bin string) bool {
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return false
	}
	if strings.HasPrefix(real, "/snap/") || filepath.Base(real) == "snap" {
		return true
	}
	f, err := os.Open(real)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := f.Read(head)
	return strings.HasPrefix(string(head[:n]), "#!") && strings.Contains(string(head[:n]), "/snap/")
}

// screenshot renders url in headless chromium into shot. Its output goes
// to a file, not a pipe, so a helper process that outlives chromium does
// not hold the test; the whole process group is killed on a timeout and
// at the end, and the profile dir is removed only best effort (a crash
// handler may still hold it).
func screenshot(t *testing.T, bin, url, shot string) {
	t.Helper()
	profile, err := os.MkdirTemp("", "quorumlab-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	out, err := os.CreateTemp(profile, "output-")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--no-first-run", "--disable-extensions", "--disable-dev-shm-usage",
		"--user-data-dir="+profile, "--window-size=1280,2400", "--screenshot="+shot, url)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err = cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		msg, _ := os.ReadFile(out.Name())
		t.Fatalf("chromium: %v\n%s", err, msg)
	}
}

// inkAndColour reads a PNG: the share of pixels that are not white, and of
// those in a clear colour (not grey): plots, verdict badges and links.
func inkAndColour(t *testing.T, path string) (float64, float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	ink, colour := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				ink++
			}
			if max(r, g, bl)-min(r, g, bl) > 0x4000 {
				colour++
			}
		}
	}
	area := float64(b.Dx() * b.Dy())
	return float64(ink) / area, float64(colour) / area
}

func TestIsSnap(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	snapBin := write("snap", "\x7fELF...")
	link := filepath.Join(dir, "chromium-link")
	if err := os.Symlink(snapBin, link); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, bin string
		want      bool
	}{
		{"link to snap", link, true},
		{"wrapper script", write("chromium-browser", "#!/bin/sh\nexec /snap/bin/chromium \"$@\"\n"), true},
		{"binary", write("chromium", "\x7fELF... /snap/ in data"), false},
		{"script", write("chrome", "#!/bin/sh\nexec /usr/lib/chromium/chromium \"$@\"\n"), false},
		{"missing", filepath.Join(dir, "nope"), false},
	}
	for _, c := range cases {
		if got := isSnap(c.bin); got != c.want {
			t.Errorf("%s: isSnap = %v, want %v", c.name, got, c.want)
		}
	}
}
