//go:build linux

package cuda

import (
	"github.com/ebitengine/purego"
)

// call invokes a C function with integer and pointer arguments (every function this package
// binds takes only those) and returns its int-sized result. Pointers to Go memory must be
// converted to uintptr in the argument list itself, so the compiler keeps them alive and on
// the heap for the duration of the call.
//
//go:uintptrescapes
func call(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

// status is a C function's int result (CUresult, cublasStatus_t, nvrtcResult).
func status(r uintptr) int32 { return int32(uint32(r)) }
