//go:build linux

package cuda

import "unsafe"

// cmem is a block of C memory (malloc) for what the C side reads through pointers: kernel
// argument values and the array of pointers to them, cuBLAS's alpha and beta, out-parameters.
// Go memory holding pointers must not be handed to C, and C memory never moves.
type cmem struct {
	a    *api
	base unsafe.Pointer
	size int
}

// cPointer turns an address the C side returned into a pointer. (Reading the uintptr's bits
// as a pointer, rather than converting it, says that this is foreign memory Go never moves.)
func cPointer(addr uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&addr)) }

func newCMem(a *api, size int) *cmem {
	p := call(a.malloc, uintptr(size))
	if p == 0 {
		panic("cuda: malloc failed")
	}
	return &cmem{a: a, base: cPointer(p), size: size}
}

func (c *cmem) release() {
	if c.base != nil {
		call(c.a.free, uintptr(c.base))
		c.base = nil
	}
}

// at is a pointer to byte off.
func (c *cmem) at(off int) unsafe.Pointer {
	if off < 0 || off >= c.size {
		panic("cuda: C memory offset out of range")
	}
	return unsafe.Add(c.base, off)
}

// ptr is the address of byte off, for passing to C.
func (c *cmem) ptr(off int) uintptr { return uintptr(c.at(off)) }

func (c *cmem) putU64(off int, v uint64) { *(*uint64)(c.at(off)) = v }
func (c *cmem) putU32(off int, v uint32) { *(*uint32)(c.at(off)) = v }
func (c *cmem) u64(off int) uint64       { return *(*uint64)(c.at(off)) }
func (c *cmem) i32(off int) int32        { return *(*int32)(c.at(off)) }

// putString writes s NUL-terminated at off and returns its address.
func (c *cmem) putString(off int, s string) uintptr {
	dst := unsafe.Slice((*byte)(c.at(off)), len(s)+1)
	copy(dst, s)
	dst[len(s)] = 0
	return c.ptr(off)
}

// cString reads a NUL-terminated C string.
func cString(addr uintptr) string {
	if addr == 0 {
		return ""
	}
	p := cPointer(addr)
	n := 0
	for n < 1<<16 && *(*byte)(unsafe.Add(p, n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(p), n))
}

// unsafeBytes views n bytes of c from off as a Go slice (valid until c is released).
func unsafeBytes(c *cmem, off, n int) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(c.at(off)), n)
}
