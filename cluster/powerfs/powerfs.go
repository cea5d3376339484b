// Package powerfs is a FUSE loopback file system that keeps every write in
// memory until it is fsynced, so that a simulated power loss can discard
// what a real one would: the page cache (what LazyFS does for Jepsen). Reads
// see the unsynced data; Fsync writes it through to the backing directory
// and syncs it there; Crash drops it.
//
// Only file contents are held back. Creates, renames, unlinks and
// truncates reach the backing directory at once, as on a file system that
// journals metadata but not data: an unsynced file survives a crash, empty
// or short.
package powerfs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// FS is one mounted file system.
type FS struct {
	dir, backing string
	server       *fuse.Server

	mu sync.Mutex
	// files hold each backing inode's pending state: go-fuse makes a new
	// node on every lookup (no entry caching here), and all of them must
	// share it. An entry goes when its last name is unlinked. Crash goes
	// through all of them rather than a set of dirty ones, which writes
	// and syncs would have to keep in step under both locks.
	files map[uint64]*pending
	stats Stats
}

// Stats counts what the file system did since it was mounted.
type Stats struct {
	Syncs   int   // fsyncs that wrote data through
	Crashes int   // Crash calls
	Lost    int64 // bytes of unsynced data that crashes discarded
}

// Mount serves backing at dir, which must exist and be empty. It needs the
// right to mount: root, or root of a user namespace that owns the mount
// namespace (see local.Reexec).
func Mount(dir, backing string) (*FS, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, fmt.Errorf("powerfs: backing dir: %w", err)
	}
	f := &FS{dir: dir, backing: backing, files: map[uint64]*pending{}}
	root := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, st *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, fs: f, p: f.pendingOf(st.Ino)}
	}
	rootNode := root.NewNode(root, nil, "", &st)
	root.RootNode = rootNode
	// No attribute or entry caching: a crash changes sizes behind the
	// kernel's back.
	var zero time.Duration
	opts := &fs.Options{
		EntryTimeout: &zero, AttrTimeout: &zero, NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			FsName: "powerfs", Name: "quorumlab",
			// mount(2) itself: fusermount does not work in a user namespace.
			DirectMount:   true,
			DisableXAttrs: true,
		},
	}
	srv, err := fs.Mount(dir, rootNode, opts)
	if err != nil {
		return nil, fmt.Errorf("powerfs: mount %s: %w", dir, err)
	}
	f.server = srv
	return f, nil
}

// Dir is where the file system is mounted.
func (f *FS) Dir() string { return f.dir }

// Crash discards every write not yet fsynced, as a power loss would. The
// caller must have killed every process writing to the file system first
// (and reaped it, so that none of its requests is still being served).
func (f *FS) Crash() int64 {
	f.mu.Lock()
	files := slices.Collect(maps.Values(f.files))
	f.mu.Unlock()
	var lost int64
	for _, p := range files {
		lost += p.drop()
	}
	f.mu.Lock()
	f.stats.Crashes++
	f.stats.Lost += lost
	f.mu.Unlock()
	return lost
}

// Stats returns the counts so far.
func (f *FS) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Unmount unmounts the file system; unsynced data is lost. Every process
// using it must have exited.
func (f *FS) Unmount() error {
	var err error
	for range 50 {
		if err = f.server.Unmount(); err == nil || !errors.Is(err, syscall.EBUSY) {
			break
		}
		time.Sleep(100 * time.Millisecond) // a release still in flight
	}
	if err != nil {
		return fmt.Errorf("powerfs: unmount %s: %w", f.dir, err)
	}
	f.server.Wait()
	f.mu.Lock()
	files := f.files
	f.files = map[uint64]*pending{}
	f.mu.Unlock()
	for _, p := range files {
		p.drop() // closes the descriptors it holds
	}
	return nil
}

// pendingOf returns the pending state of backing inode ino.
func (f *FS) pendingOf(ino uint64) *pending {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.files[ino]
	if !ok {
		p = &pending{}
		f.files[ino] = p
	}
	return p
}

// forget drops the pending state of the file at backing path if its last
// name is about to go (call before the unlink or rename over it): its
// inode number may be reused by a new file.
func (f *FS) forgetIfLast(path string) func() {
	var st syscall.Stat_t
	if syscall.Lstat(path, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Nlink > 1 {
		return func() {}
	}
	return func() {
		f.mu.Lock()
		p := f.files[st.Ino]
		delete(f.files, st.Ino)
		f.mu.Unlock()
		if p != nil {
			p.drop() // a deleted file's unsynced data goes with it
		}
	}
}

func (f *FS) synced() {
	f.mu.Lock()
	f.stats.Syncs++
	f.mu.Unlock()
}

// node is a loopback inode with the unsynced state of its contents.
type node struct {
	fs.LoopbackNode
	fs *FS
	p  *pending
}

var (
	_ fs.NodeOpener    = (*node)(nil)
	_ fs.NodeCreater   = (*node)(nil)
	_ fs.NodeGetattrer = (*node)(nil)
	_ fs.NodeSetattrer = (*node)(nil)
	_ fs.NodeStatxer   = (*node)(nil)
	_ fs.NodeUnlinker  = (*node)(nil)
	_ fs.NodeRenamer   = (*node)(nil)
)

// backingPath is where a child of n lives in the backing directory.
func (n *node) backingPath(name string) string {
	return filepath.Join(n.fs.backing, n.Path(nil), name)
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	done := n.fs.forgetIfLast(n.backingPath(name))
	errno := n.LoopbackNode.Unlink(ctx, name)
	if errno == 0 {
		done()
	}
	return errno
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	done := func() {}
	if np, ok := newParent.(*node); ok && flags&unix.RENAME_EXCHANGE == 0 {
		done = n.fs.forgetIfLast(np.backingPath(newName)) // replaced, if it exists
	}
	errno := n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	if errno == 0 {
		done()
	}
	return errno
}

// Statx is left to Getattr: the loopback's would show the backing size.
func (n *node) Statx(context.Context, fs.FileHandle, uint32, uint32, *fuse.StatxOut) syscall.Errno {
	return syscall.ENOSYS
}

// Open wraps the loopback file. Direct I/O keeps the kernel's page cache
// out of the way: it would hold unsynced data across a crash.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, _, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return &file{lf: fh.(*fs.LoopbackFile), n: n}, fuse.FOPEN_DIRECT_IO, 0
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ch, fh, _, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	child := ch.Operations().(*node)
	return ch, &file{lf: fh.(*fs.LoopbackFile), n: child}, fuse.FOPEN_DIRECT_IO, 0
}

func (n *node) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if f, ok := fh.(*file); ok {
		return f.Getattr(ctx, out) // by descriptor: also an unlinked file
	}
	if errno := n.LoopbackNode.Getattr(ctx, nil, out); errno != 0 {
		return errno
	}
	n.p.attr(out)
	return 0
}

func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	var inner fs.FileHandle
	if f, ok := fh.(*file); ok {
		inner = f.lf
	}
	apply := func() syscall.Errno { return n.LoopbackNode.Setattr(ctx, inner, in, out) }
	var errno syscall.Errno
	if sz, ok := in.GetSize(); ok {
		// Under the pending lock, so that a flush cannot write old pages
		// back over the truncation.
		errno = n.p.truncate(int64(sz), apply)
	} else {
		errno = apply()
	}
	if errno != 0 {
		return errno
	}
	n.p.attr(out)
	return 0
}

// file is an open file of a node.
type file struct {
	lf *fs.LoopbackFile
	n  *node
}

var (
	_ fs.FileReader    = (*file)(nil)
	_ fs.FileWriter    = (*file)(nil)
	_ fs.FileFsyncer   = (*file)(nil)
	_ fs.FileFlusher   = (*file)(nil)
	_ fs.FileReleaser  = (*file)(nil)
	_ fs.FileGetattrer = (*file)(nil)
	_ fs.FileAllocater = (*file)(nil)
)

// fd is the backing file's descriptor.
func (f *file) fd() int {
	fd, _ := f.lf.PassthroughFd()
	return fd
}

func (f *file) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := f.n.p.read(f.fd(), buf, off)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return fuse.ReadResultData(buf[:n]), 0
}

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if err := f.n.p.write(f.fd(), data, off); err != nil {
		return 0, fs.ToErrno(err)
	}
	return uint32(len(data)), 0
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	wrote, err := f.n.p.flush()
	if err != nil {
		return fs.ToErrno(err)
	}
	if wrote {
		f.n.fs.synced()
	}
	return f.lf.Fsync(ctx, flags)
}

func (f *file) Flush(ctx context.Context) syscall.Errno   { return f.lf.Flush(ctx) }
func (f *file) Release(ctx context.Context) syscall.Errno { return f.lf.Release(ctx) }

func (f *file) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	if errno := f.lf.Getattr(ctx, out); errno != 0 {
		return errno
	}
	f.n.p.attr(out)
	return 0
}

// Allocate passes plain and KEEP_SIZE allocations through; punching holes,
// zeroing, collapsing or inserting ranges would have to rewrite the pending
// pages too, and are refused.
func (f *file) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	if mode&^unix.FALLOC_FL_KEEP_SIZE != 0 {
		return syscall.EOPNOTSUPP
	}
	if errno := f.lf.Allocate(ctx, off, size, mode); errno != 0 {
		return errno
	}
	if mode&unix.FALLOC_FL_KEEP_SIZE == 0 { // the file grew
		f.n.p.grow(int64(off + size))
	}
	return 0
}
