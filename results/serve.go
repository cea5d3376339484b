package results

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/quorumlab/quorumlab/checker"
)

// Server serves a run store over HTTP: an index of runs and comparisons at
// /, and the store's files below it. Files are opened through an os.Root, so
// neither ".." nor a symlink leads outside the store.
type Server struct {
	root  *os.Root
	files http.Handler
}

// NewServer serves the store at dir.
func NewServer(dir string) (*Server, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return &Server{root: root, files: http.FileServerFS(root.FS())}, nil
}

// Close releases the store directory.
func (s *Server) Close() error { return s.root.Close() }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path != "/" {
		if page, ok := s.listing(r.URL.Path); ok {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(page)
			return
		}
		s.files.ServeHTTP(w, r)
		return
	}
	page, err := s.index()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(page)
}

type indexRun struct {
	Dir         string // slash path relative to the store
	Stamp       string
	Info        testInfo
	Verdict     checker.Verdict
	Interrupted bool
	// Which files the run has so far.
	Report, Results, History bool
}

type indexComparison struct {
	Dir   string
	Stamp string
	C     Comparison
}

// index scans the store on every request: it is a directory of files that
// runs add to, and a scan of even a few thousand runs is quick.
func (s *Server) index() ([]byte, error) {
	fsys := s.root.FS()
	tests, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read store: %w", err)
	}
	var runs []indexRun
	var comps []indexComparison
	for _, t := range tests {
		if !t.IsDir() { // files, and symlinks such as latest
			continue
		}
		stamps, err := fs.ReadDir(fsys, t.Name())
		if err != nil {
			continue
		}
		for _, st := range stamps {
			if !st.IsDir() {
				continue
			}
			dir := path.Join(t.Name(), st.Name())
			if b, err := fs.ReadFile(fsys, path.Join(dir, CompareJSON)); err == nil {
				ic := indexComparison{Dir: dir, Stamp: st.Name()}
				if json.Unmarshal(b, &ic.C) == nil {
					comps = append(comps, ic)
				}
				continue
			}
			run, ok := readIndexRun(fsys, dir)
			if ok {
				run.Stamp = st.Name()
				runs = append(runs, run)
			}
		}
	}
	// Newest first; timestamps in directory names sort as strings.
	slices.SortFunc(runs, func(a, b indexRun) int { return cmp.Or(cmp.Compare(b.Stamp, a.Stamp), cmp.Compare(a.Dir, b.Dir)) })
	slices.SortFunc(comps, func(a, b indexComparison) int { return cmp.Compare(b.Stamp, a.Stamp) })
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, struct {
		Runs        []indexRun
		Comparisons []indexComparison
	}{runs, comps}); err != nil {
		return nil, fmt.Errorf("render index: %w", err)
	}
	return buf.Bytes(), nil
}

// readIndexRun reads what the index shows of the run in dir; ok is false if
// dir holds no run.
func readIndexRun(fsys fs.FS, dir string) (run indexRun, ok bool) {
	run.Dir = dir
	tb, terr := fs.ReadFile(fsys, path.Join(dir, TestFile))
	if terr == nil {
		_ = json.Unmarshal(tb, &run.Info) // a damaged test.json still lists the run
	}
	rb, rerr := fs.ReadFile(fsys, path.Join(dir, ResultsFile))
	if rerr == nil {
		var v struct {
			Verdict     checker.Verdict `json:"verdict"`
			Interrupted bool            `json:"interrupted"`
		}
		if json.Unmarshal(rb, &v) == nil {
			run.Verdict, run.Interrupted = v.Verdict, v.Interrupted
		}
	}
	_, herr := fs.Stat(fsys, path.Join(dir, HistoryFile))
	if terr != nil && rerr != nil && herr != nil {
		return run, false
	}
	_, err := fs.Stat(fsys, path.Join(dir, ReportFile))
	run.Report, run.Results, run.History = err == nil, rerr == nil, herr == nil
	return run, true
}

// listing renders the directory at urlPath (one ending in /) as a page in
// the store's style; false for anything else, left to the file server.
func (s *Server) listing(urlPath string) ([]byte, bool) {
	if !strings.HasSuffix(urlPath, "/") {
		return nil, false
	}
	name := strings.Trim(path.Clean(urlPath), "/")
	entries, err := fs.ReadDir(s.root.FS(), name)
	if err != nil {
		return nil, false
	}
	type entry struct {
		Name, Size, Modified string
		Dir                  bool
	}
	d := struct {
		Path    string
		Entries []entry
	}{Path: "/" + name + "/"}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		en := entry{Name: e.Name(), Dir: e.IsDir(), Modified: info.ModTime().UTC().Format("2006-01-02 15:04:05 UTC")}
		if !e.IsDir() {
			en.Size = humanBytes(info.Size())
		}
		d.Entries = append(d.Entries, en)
	}
	var buf bytes.Buffer
	if err := listingTemplate.Execute(&buf, d); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
