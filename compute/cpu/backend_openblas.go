//go:build cgo

package cpu

/*
#cgo pkg-config: openblas
#include <cblas.h>
*/
import "C"

import (
	"fmt"
	"github.com/ordermerge/ordermerge/compute/cpu/internal/gemm"
	"unsafe"
)

// HaveOpenBLAS reports whether this binary was built with the OpenBLAS backend (cgo on).
func HaveOpenBLAS() bool { return true }

// openBLAS calls cblas_sgemm. OpenBLAS is set to run single-threaded and our goroutines split
// the work (MatMul): OpenBLAS's own threads busy-wait after each call, which on a small
// machine steals the cores from the Go code that runs between matrix products, and a split we
// choose is fixed, so results repeat exactly for a thread count.
type openBLAS struct{ threads int }

func newOpenBLAS(threads int) (Backend, error) {
	// Process-wide setting of the library, not state of ours: every backend wants the same.
	C.openblas_set_num_threads(1)
	if n := int(C.openblas_get_num_threads()); n != 1 {
		return nil, fmt.Errorf("openblas: could not set one thread per call (has %d)", n)
	}
	return openBLAS{threads: threads}, nil
}

// OpenBLASCore names the CPU kernel OpenBLAS picked (for benchmark records), or "" without cgo.
func OpenBLASCore() string { return C.GoString(C.openblas_get_corename()) }

func (openBLAS) Name() string   { return BackendOpenBLAS }
func (o openBLAS) Threads() int { return o.threads }

func (openBLAS) Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 || alpha == 0 {
		gemm.ScaleC(m, n, beta, c, ldc)
		return
	}
	ta, tb := uint32(C.CblasNoTrans), uint32(C.CblasNoTrans)
	if transA {
		ta = uint32(C.CblasTrans)
	}
	if transB {
		tb = uint32(C.CblasTrans)
	}
	// Bounds are checked here so a wrong call fails in Go, not as a crash inside C.
	gemm.Check(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	C.cblas_sgemm(C.CblasRowMajor, C.enum_CBLAS_TRANSPOSE(ta), C.enum_CBLAS_TRANSPOSE(tb),
		C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}
