package powerfs

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

const pageSize = 4096

// pending is a file's data written since its last fsync: whole pages over
// the backing file, and the size the file has with them.
type pending struct {
	mu    sync.Mutex
	pages map[int64][]byte // page index → pageSize bytes
	size  int64            // meaningful while wfd >= 0
	// wfd is a duplicate of the descriptor of the first write since the
	// last sync, so that an fsync through any handle (or after the writing
	// one is closed) can write the pages through. -1: nothing pending.
	wfd int
}

func (p *pending) dirty() bool { return p.pages != nil }

// write adds data at off.
func (p *pending) write(fd int, data []byte, off int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.dirty() {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			return err
		}
		wfd, err := reopen(fd)
		if err != nil {
			return err
		}
		p.pages, p.size, p.wfd = map[int64][]byte{}, st.Size, wfd
	}
	for len(data) > 0 {
		idx, at := off/pageSize, off%pageSize
		pg, err := p.page(idx)
		if err != nil {
			return err
		}
		n := copy(pg[at:], data)
		data, off = data[n:], off+int64(n)
		p.size = max(p.size, off)
	}
	return nil
}

// page returns page idx, loading it from the backing file (p.mu held).
func (p *pending) page(idx int64) ([]byte, error) {
	if pg, ok := p.pages[idx]; ok {
		return pg, nil
	}
	pg := make([]byte, pageSize)
	if start := idx * pageSize; start < p.size {
		if _, err := preadFull(p.wfd, pg[:min(pageSize, p.size-start)], start); err != nil {
			return nil, err
		}
	}
	p.pages[idx] = pg
	return pg, nil
}

// read fills buf from off: the backing file with the pending pages over it.
func (p *pending) read(fd int, buf []byte, off int64) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.dirty() {
		return preadFull(fd, buf, off)
	}
	if off >= p.size {
		return 0, nil
	}
	buf = buf[:min(int64(len(buf)), p.size-off)]
	n, err := preadFull(fd, buf, off)
	if err != nil {
		return 0, err
	}
	clear(buf[n:]) // beyond the backing file: written pages or a hole
	for i := int64(0); i < int64(len(buf)); {
		pos := off + i
		idx, at := pos/pageSize, pos%pageSize
		span := min(pageSize-at, int64(len(buf))-i)
		if pg, ok := p.pages[idx]; ok {
			copy(buf[i:i+span], pg[at:at+span])
		}
		i += span
	}
	return len(buf), nil
}

// flush writes the pending pages through; wrote is false if there were
// none. The caller syncs the backing file.
func (p *pending) flush() (wrote bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.dirty() {
		return false, nil
	}
	for _, idx := range slices.Sorted(maps.Keys(p.pages)) {
		start := idx * pageSize
		if start >= p.size {
			continue
		}
		pg := p.pages[idx][:min(pageSize, p.size-start)]
		if _, err := syscall.Pwrite(p.wfd, pg, start); err != nil {
			return false, err
		}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(p.wfd, &st); err != nil {
		return false, err
	}
	if st.Size > p.size {
		if err := syscall.Ftruncate(p.wfd, p.size); err != nil {
			return false, err
		}
	}
	// Sync through wfd too: the handle fsynced may be another open of the
	// same file, which syncs the same inode anyway.
	if err := syscall.Fdatasync(p.wfd); err != nil {
		return false, err
	}
	p.reset()
	return true, nil
}

// drop discards the pending pages and returns how many bytes they held.
func (p *pending) drop() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	lost := int64(len(p.pages)) * pageSize
	if p.dirty() {
		p.reset()
	}
	return lost
}

func (p *pending) reset() {
	syscall.Close(p.wfd)
	p.pages, p.wfd = nil, -1
}

// truncate makes a truncation of the backing file (apply) and records it.
func (p *pending) truncate(size int64, apply func() syscall.Errno) syscall.Errno {
	p.mu.Lock()
	defer p.mu.Unlock()
	if errno := apply(); errno != 0 || !p.dirty() {
		return errno
	}
	p.size = size
	for idx, pg := range p.pages {
		start := idx * pageSize
		switch {
		case start >= size:
			delete(p.pages, idx)
		case start+pageSize > size:
			clear(pg[size-start:])
		}
	}
	return 0
}

// grow records an allocation that extended the backing file.
func (p *pending) grow(size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dirty() {
		p.size = max(p.size, size)
	}
}

// attr shows the size with the pending pages.
func (p *pending) attr(out *fuse.AttrOut) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dirty() && out.Mode&syscall.S_IFMT == syscall.S_IFREG {
		out.Size = uint64(p.size)
		out.Blocks = (out.Size + 511) / 512
	}
}

// reopen opens the file behind fd again for reading and writing, close on
// exec, so that pages can be loaded and written back whatever mode the
// writing handle had; a plain duplicate if that is not allowed.
func reopen(fd int) (int, error) {
	wfd, err := syscall.Open("/proc/self/fd/"+strconv.Itoa(fd), syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err == nil {
		return wfd, nil
	}
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}

// preadFull reads until buf is full or the file ends.
func preadFull(fd int, buf []byte, off int64) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := syscall.Pread(fd, buf[n:], off+int64(n))
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}
