package cpu

import (
	"fmt"
	"github.com/ordermerge/ordermerge/compute/cpu/internal/gemm"
	"runtime"
	"strings"
	"sync"
)

// Backend computes matrix products. It is deliberately small: the model code only ever asks
// for one general matrix multiply on row-major float32 data, so another backend (a GPU one)
// can be added without touching the model. Everything that is not a matrix product is plain
// Go in this package, split over Threads() goroutines on fixed partitions.
type Backend interface {
	// Name identifies the backend ("openblas", "go").
	Name() string
	// Threads is how many goroutines callers split work over.
	Threads() int
	// Gemm computes C = alpha*op(A)*op(B) + beta*C on the calling goroutine only, where C is
	// m x n, op(A) is m x k (A is stored k x m when transA) and op(B) is k x n (B is stored
	// n x k when transB); all row-major with leading dimensions lda, ldb, ldc. With beta == 0,
	// C is overwritten (its old values, even NaN, are ignored). Gemm is safe for concurrent
	// use by several goroutines, and gives the same bits for the same inputs every time.
	Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}

// Backend names accepted by NewBackend.
const (
	BackendOpenBLAS = "openblas"
	BackendGo       = "go"
)

// NewBackend returns the named backend ("openblas", "go", or "" for the default: OpenBLAS
// when the binary was built with cgo, pure Go otherwise) using threads goroutines (0: one
// per core, runtime.GOMAXPROCS). Results are bit-identical run to run for the same backend
// and thread count.
func NewBackend(name string, threads int) (Backend, error) {
	if threads < 0 {
		return nil, fmt.Errorf("backend threads must be >= 0, got %d", threads)
	}
	if threads == 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	switch strings.ToLower(name) {
	case "":
		if HaveOpenBLAS() {
			return newOpenBLAS(threads)
		}
		return NewGoBackend(threads), nil
	case BackendOpenBLAS:
		if !HaveOpenBLAS() {
			return nil, fmt.Errorf("backend %q is not available: this binary was built without cgo (CGO_ENABLED=0); use %q", BackendOpenBLAS, BackendGo)
		}
		return newOpenBLAS(threads)
	case BackendGo:
		return NewGoBackend(threads), nil
	}
	return nil, fmt.Errorf("unknown backend %q (want %q or %q)", name, BackendOpenBLAS, BackendGo)
}

// DefaultBackend is NewBackend("", 0): the fastest backend built in, one goroutine per core.
func DefaultBackend() Backend {
	be, err := NewBackend("", 0)
	if err != nil {
		// Only reachable if OpenBLAS refuses to start; the pure-Go backend always works.
		return NewGoBackend(0)
	}
	return be
}

// GoBackend is the pure-Go matrix multiply: cache-blocked, with packed panels and a
// register-tiled kernel (AVX2+FMA assembly where the CPU has it). It needs no cgo.
type GoBackend struct {
	threads int
	// spaces recycles packing buffers between calls (one per concurrent call).
	spaces *sync.Pool
}

// NewGoBackend returns the pure-Go backend with the given thread count (0: one per core).
func NewGoBackend(threads int) GoBackend {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	return GoBackend{threads: threads, spaces: &sync.Pool{New: func() any { return new(gemm.Workspace) }}}
}

// Name is "go".
func (GoBackend) Name() string { return BackendGo }

// Threads is the number of goroutines callers split work over.
func (g GoBackend) Threads() int { return g.threads }

// Gemm is the pure-Go single-goroutine matrix multiply (see Backend).
func (g GoBackend) Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if g.spaces == nil { // the zero GoBackend: allocate per call
		gemm.Gemm(nil, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	ws := g.spaces.Get().(*gemm.Workspace)
	defer g.spaces.Put(ws)
	gemm.Gemm(ws, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// MatMul computes C = alpha*op(A)*op(B) + beta*C (see Backend.Gemm) split over the backend's
// threads: C's rows (or its columns, when it is wider than tall) are cut into fixed blocks,
// one Gemm per block. Each element of C is computed by one Gemm call whatever the split, and
// the split depends only on the shape and thread count, so results repeat exactly.
func MatMul(be Backend, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	threads := be.Threads()
	// Small products are not worth a goroutine each.
	if threads <= 1 || int64(m)*int64(n)*int64(k) < 1<<17 {
		be.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	const unit = 16 // block edges on multiples of the kernels' register tiles
	if m >= n {
		units := (m + unit - 1) / unit
		For(threads, units, func(lo, hi int) {
			r0, r1 := lo*unit, min(hi*unit, m)
			var as []float32
			if transA {
				as = a[r0:]
			} else {
				as = a[r0*lda:]
			}
			be.Gemm(transA, transB, r1-r0, n, k, alpha, as, lda, b, ldb, beta, c[r0*ldc:], ldc)
		})
		return
	}
	units := (n + unit - 1) / unit
	For(threads, units, func(lo, hi int) {
		c0, c1 := lo*unit, min(hi*unit, n)
		var bs []float32
		if transB {
			bs = b[c0*ldb:]
		} else {
			bs = b[c0:]
		}
		be.Gemm(transA, transB, m, c1-c0, k, alpha, a, lda, bs, ldb, beta, c[c0:], ldc)
	})
}
