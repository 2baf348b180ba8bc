//go:build linux

package cuda

import (
	"fmt"
	"runtime"
)

// ffiFunc calls one C function through libffi (for cuBLAS entry points with more arguments
// than purego passes directly). Its call interface and argument slots live in C memory.
type ffiFunc struct {
	a     *api
	fn    uintptr
	wide  []bool // per argument: 8 bytes (pointer, long long) rather than a 4-byte int
	mem   *cmem  // cif | arg types | arg value pointers | arg values | return value
	nargs int
}

const ffiCifBytes = 64 // sizeof(ffi_cif) is 32 on x86-64; room for other ABIs

// ffiABI is FFI_DEFAULT_ABI: FFI_UNIX64 on x86-64, FFI_SYSV on arm64.
func ffiABI() uintptr {
	if runtime.GOARCH == "arm64" {
		return 1
	}
	return 2
}

// newFFI prepares calls of fn, whose arguments are 8-byte (wide) or 4-byte ints, returning
// a 4-byte int.
func newFFI(a *api, fn uintptr, wide []bool) (*ffiFunc, error) {
	n := len(wide)
	f := &ffiFunc{a: a, fn: fn, wide: wide, nargs: n, mem: newCMem(a, ffiCifBytes+3*8*n+8)}
	types := ffiCifBytes
	for i, w := range wide {
		t := a.ffiTypeSint32
		if w {
			t = a.ffiTypeSint64
		}
		f.mem.putU64(types+8*i, uint64(t))
		f.mem.putU64(f.ptrsOff()+8*i, uint64(f.mem.ptr(f.valsOff()+8*i)))
	}
	if r := status(call(a.ffiPrepCif, f.mem.ptr(0), ffiABI(), uintptr(n), a.ffiTypeSint32, f.mem.ptr(types))); r != 0 {
		f.mem.release()
		return nil, fmt.Errorf("libffi: ffi_prep_cif failed (%d)", r)
	}
	return f, nil
}

func (f *ffiFunc) ptrsOff() int { return ffiCifBytes + 8*f.nargs }
func (f *ffiFunc) valsOff() int { return ffiCifBytes + 16*f.nargs }
func (f *ffiFunc) retOff() int  { return ffiCifBytes + 24*f.nargs }

// call passes args (each truncated to 4 bytes where the argument is not wide) and returns
// the function's int result. Callers serialise calls (the device's lock).
func (f *ffiFunc) call(args ...uint64) int32 {
	if len(args) != f.nargs {
		panic(fmt.Sprintf("cuda: ffi call with %d arguments, prepared for %d", len(args), f.nargs))
	}
	for i, v := range args {
		if f.wide[i] {
			f.mem.putU64(f.valsOff()+8*i, v)
		} else {
			f.mem.putU32(f.valsOff()+8*i, uint32(v))
		}
	}
	f.mem.putU64(f.retOff(), 0)
	call(f.a.ffiCall, f.mem.ptr(0), f.fn, f.mem.ptr(f.retOff()), f.mem.ptr(f.ptrsOff()))
	return f.mem.i32(f.retOff())
}
