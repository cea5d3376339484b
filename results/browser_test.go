package results

import (
	"context"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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
	store, runDir, cmpDir := testStore(t)
	srv, err := NewServer(store)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()

	pages := []struct {
		name, path string
		// Least shares of non-white and of coloured pixels.
		minInk, minColour float64
	}{
		{"index", "/", 0.01, 0.0005},
		{"report", "/" + filepath.ToSlash(mustRel(t, store, runDir)) + "/report.html", 0.05, 0.0025},
		{"comparison", "/" + filepath.ToSlash(mustRel(t, store, cmpDir)) + "/compare.html", 0.05, 0.01},
	}
	for _, pg := range pages {
		t.Run(pg.name, func(t *testing.T) {
			shot := filepath.Join(t.TempDir(), "shot.png")
			if d := os.Getenv("QUORUMLAB_SHOTS"); d != "" {
				shot = filepath.Join(d, pg.name+".png")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin,
				"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
				"--no-first-run", "--disable-extensions", "--disable-dev-shm-usage",
				"--user-data-dir="+t.TempDir(),
				"--window-size=1280,2400", "--screenshot="+shot, hs.URL+pg.path)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("chromium: %v\n%s", err, out)
			}
			ink, colour := inkAndColour(t, shot)
			t.Logf("%s: %.2f %% non-white, %.2f %% coloured", pg.path, 100*ink, 100*colour)
			if ink < pg.minInk || colour < pg.minColour {
				t.Errorf("%s renders nearly blank: %.2f %% non-white pixels (want ≥ %.2f %%), %.2f %% coloured (want ≥ %.2f %%)",
					pg.path, 100*ink, 100*pg.minInk, 100*colour, 100*pg.minColour)
			}
		})
	}
}

// inkAndColour reads a PNG: the share of pixels that are not white, and of
// those in a clear colour (not grey), which only plots and verdict badges
// draw; text and table rules are grey.
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
