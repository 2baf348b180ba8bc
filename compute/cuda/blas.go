//go:build linux

package cuda

import (
	"fmt"

	"github.com/ordermerge/ordermerge/compute"
)

// cuBLAS constants (cublas_api.h, library_types.h).
const (
	opN, opT           = 0, 1
	dataF32, dataBF16  = 0, 14
	computeF32         = 68
	computeF32FastTF32 = 77
)

// Argument widths of cublasGemmEx and cublasGemmStridedBatchedEx (pointers and long long
// strides are 8 bytes, the rest 4).
var (
	gemmExWide      = []bool{true, false, false, false, false, false, true, true, false, false, true, false, false, true, true, false, false, false, false}
	gemmBatchedWide = []bool{true, false, false, false, false, false, true, true, false, false, true, true, false, false, true, true, true, false, false, true, false, false, false}
)

// scalars puts alpha and beta in C memory for cuBLAS (host pointer mode).
func (d *Device) scalars(alpha, beta float32) (uintptr, uintptr) {
	off := 8 * 2 * maxArgs
	d.args.putU32(off, uint32(f32bits(alpha)))
	d.args.putU32(off+4, uint32(f32bits(beta)))
	return d.args.ptr(off), d.args.ptr(off + 4)
}

func blasOp(t bool) uint64 {
	if t {
		return opT
	}
	return opN
}

// gemm queues the row-major product g on device pointers (the caller holds the lock): C^T =
// op(B)^T op(A)^T in cuBLAS's column-major terms. dt is the inputs' dtype; batch > 1 runs
// strided batches.
func (d *Device) gemm(c, a, b uint64, dt compute.DType, g compute.GEMM, batch int, sa, sb, sc int64) {
	if d.record != nil {
		d.record("gemm", nil)
	}
	lda, ldb, ldc := g.Lds()
	alpha, beta := d.scalars(g.Alpha, g.Beta)
	if dt == compute.F32 && !g.TF32 && batch == 1 {
		r := status(call(d.a.cublasSgemm, d.blas, uintptr(blasOp(g.TransB)), uintptr(blasOp(g.TransA)),
			uintptr(g.N), uintptr(g.M), uintptr(g.K), alpha, uintptr(b), uintptr(ldb), uintptr(a), uintptr(lda), beta, uintptr(c), uintptr(ldc)))
		if r != 0 {
			d.fail(fmt.Errorf("cuda: cublasSgemm %dx%dx%d: status %d", g.M, g.N, g.K, r))
		}
		return
	}
	typ, comp := uint64(dataF32), uint64(computeF32)
	if dt == compute.BF16 {
		typ = dataBF16
	} else if g.TF32 {
		comp = computeF32FastTF32
	}
	var r int32
	if batch == 1 {
		r = d.gemmEx.call(uint64(d.blas), blasOp(g.TransB), blasOp(g.TransA), uint64(g.N), uint64(g.M), uint64(g.K),
			uint64(alpha), b, typ, uint64(ldb), a, typ, uint64(lda), uint64(beta), c, dataF32, uint64(ldc), comp, algoDefault)
	} else {
		r = d.gemmBatched.call(uint64(d.blas), blasOp(g.TransB), blasOp(g.TransA), uint64(g.N), uint64(g.M), uint64(g.K),
			uint64(alpha), b, typ, uint64(ldb), uint64(sb), a, typ, uint64(lda), uint64(sa), uint64(beta), c, dataF32, uint64(ldc), uint64(sc),
			uint64(batch), comp, algoDefault)
	}
	if r != 0 {
		d.fail(fmt.Errorf("cuda: cuBLAS gemm %dx%dx%d (%s, batch %d): status %d", g.M, g.N, g.K, dt, batch, r))
	}
}

// MatMul queues c = Alpha*op(a)*op(b) + Beta*c on cuBLAS (tensor cores for BF16 inputs, and
// for F32 with TF32 set).
func (d *Device) MatMul(c, a, b compute.Buf, g compute.GEMM) {
	if err := g.Check(c, a, b); err != nil {
		panic(err)
	}
	if g.M == 0 || g.N == 0 {
		return
	}
	unlock := d.enter()
	defer unlock()
	d.gemm(d.ptr(c), d.ptr(a), d.ptr(b), a.DType(), g, 1, 0, 0, 0)
}

// algoDefault is CUBLAS_GEMM_DEFAULT (-1) as a 4-byte argument.
const algoDefault = uint64(0xffffffff)
