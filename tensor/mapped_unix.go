//go:build unix

package tensor

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func mapFile(f *os.File, size int64) []byte {
	if size <= 0 || int64(int(size)) != size {
		return nil
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	return b
}

func unmapFile(b []byte) error { return unix.Munmap(b) }

func releasePages(b []byte) {
	if len(b) == 0 {
		return
	}
	page := uintptr(os.Getpagesize())
	p := unsafe.Pointer(&b[0])
	head := uintptr(p) & (page - 1)
	n := (head + uintptr(len(b)) + page - 1) &^ (page - 1)
	// The page-rounded range may extend past b on both sides, within the same mapping (a
	// mapping starts on a page boundary and its last page is whole).
	unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, -int(head))), n), unix.MADV_DONTNEED)
}
