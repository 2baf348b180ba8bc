package tensor

import (
	"sync"
	"unsafe"
)

// mapping is a Reader's read-only memory map of its whole file, made on first use.
type mapping struct {
	once sync.Once
	data []byte // nil when the file could not be mapped
}

// MappedData returns the named tensor's bytes as a read-only view of the file mapped into
// memory, or ok false when no map is available (a Reader made by NewReader, a platform or
// file system without mmap, or a failed mmap): then read with ReadInto or Section.
//
// Reading the view costs no copy and no system call once the pages are in the page cache, so
// a caller that reads a tensor several times (a statistics pass, then the merge) pays for the
// disk once. The pages it touches count in the process's resident memory until ReleaseMapped
// gives them back; the page cache keeps them either way. The view is valid until Close and
// must not be written to. If the file is truncated while mapped, reading a page past its new
// end faults: a caller that must survive that runs its reads with debug.SetPanicOnFault(true)
// and recovers the panic.
func (r *Reader) MappedData(name string) (data []byte, ok bool) {
	e, ok := r.Entry(name)
	if !ok || r.file == nil {
		return nil, false
	}
	r.mapped.once.Do(func() { r.mapped.data = mapFile(r.file, r.size) })
	if r.mapped.data == nil {
		return nil, false
	}
	return r.mapped.data[e.Offset : e.Offset+e.Size : e.Offset+e.Size], true
}

// ReleaseMapped takes the pages that hold b, part of a view from MappedData, out of the
// process's resident memory. The data stays in the page cache: reading b again costs a minor
// page fault, not a disk read. A fault maps the pages around the one read as well (Linux's
// fault-around, and whole large folios), which may belong to a neighbouring tensor already
// released: the pages up to releaseMargin on either side of b go too, so that reading tensor
// after tensor never leaves a trail of them resident. (Another reader of those pages faults
// them back in unchanged.)
func (r *Reader) ReleaseMapped(b []byte) {
	m := r.mapped.data
	if len(b) == 0 || len(m) == 0 {
		return
	}
	off := int64(uintptr(unsafe.Pointer(&b[0])) - uintptr(unsafe.Pointer(&m[0])))
	if off < 0 || off+int64(len(b)) > int64(len(m)) {
		return // not from this Reader's map
	}
	from := max(off-releaseMargin, 0)
	to := min(off+int64(len(b))+releaseMargin, int64(len(m)))
	releasePages(m[from:to])
}

// releaseMargin covers what one page fault may map beyond the page read: 64 KiB of
// fault-around by default, a large folio of up to 2 MiB.
const releaseMargin = 2 << 20

// unmap ends the Reader's mapping, if it made one.
func (r *Reader) unmap() error {
	if r.mapped.data == nil {
		return nil
	}
	data := r.mapped.data
	r.mapped.data = nil
	return unmapFile(data)
}
