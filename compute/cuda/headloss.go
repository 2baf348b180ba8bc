//go:build linux

package cuda

import (
	"fmt"

	"github.com/ordermerge/ordermerge/compute"
)

// headRows is the number of rows HeadLoss computes at once: as many as Options.HeadChunk
// logits allow, at least 16.
func (d *Device) headRows(s compute.HeadShape) int {
	return min(s.Rows, max(16, d.headChunk/max(s.V, 1)))
}

// headLayout places HeadLoss's scratch (byte offsets): the target rows' indices and targets,
// a chunk's gathered rows, logits, bf16 logit gradients and row gradients.
func (d *Device) headLayout(s compute.HeadShape) (meta, xs, logits, dzbf, dxs, total int64) {
	cr := int64(d.headRows(s))
	align := func(x int64) int64 { return (x + 255) &^ 255 }
	meta = 0
	xs = align(8 * int64(s.Rows))
	logits = align(xs + 4*cr*int64(s.D))
	dzbf = align(logits + 4*cr*int64(s.V))
	dxs = align(dzbf + 2*cr*int64(s.V))
	total = align(dxs + 4*cr*int64(s.D))
	return
}

// HeadLossScratch is the scratch of HeadLoss in float32 values.
func (d *Device) HeadLossScratch(s compute.HeadShape) int {
	_, _, _, _, _, total := d.headLayout(s)
	return int((total + 3) / 4)
}

// HeadLoss computes the head and the cross-entropy for the rows that have targets, a chunk
// of rows at a time: gather, logits = x w^T (cuBLAS), the fused softmax cross-entropy and its
// gradient (one block per row), then dx = dz w and dw += dz^T x.
func (d *Device) HeadLoss(rowLoss, x, w, scale, dx, dw, scratch compute.Buf, targets []int32, s compute.HeadShape) {
	n, dt := s.Rows, x.DType()
	compute.CheckLen("head loss", "rowLoss", rowLoss, n, compute.F32)
	compute.CheckLen("head loss", "x", x, n*s.D, dt)
	compute.CheckLen("head loss", "w", w, s.V*s.D, dt)
	compute.CheckLen("head loss", "scratch", scratch, d.HeadLossScratch(s), compute.F32)
	if len(targets) < n {
		panic(fmt.Errorf("head loss: %d targets for %d rows", len(targets), n))
	}
	grads := !dx.IsZero()
	if grads {
		compute.CheckLen("head loss", "scale", scale, n, compute.F32)
		compute.CheckLen("head loss", "dx", dx, n*s.D, compute.F32)
		compute.CheckLen("head loss", "dw", dw, s.V*s.D, compute.F32)
	}
	var idx, tgt []int32
	for i, t := range targets[:n] {
		if int(t) >= s.V {
			panic(fmt.Errorf("head loss: row %d has target %d outside the vocabulary [0, %d)", i, t, s.V))
		}
		if t >= 0 {
			idx, tgt = append(idx, int32(i)), append(tgt, t)
		}
	}
	k := len(idx)
	unlock := d.enter()
	defer unlock()
	d.check("zero memory", status(call(d.a.cuMemsetD8, uintptr(d.p(rowLoss)), 0, uintptr(4*n))))
	if grads {
		d.check("zero memory", status(call(d.a.cuMemsetD8, uintptr(d.p(dx)), 0, uintptr(4*n*s.D))))
	}
	if k == 0 {
		return
	}
	metaOff, xsOff, logitsOff, dzbfOff, dxsOff, _ := d.headLayout(s)
	base := d.p(scratch)
	meta := append(append([]int32(nil), idx...), tgt...)
	if !d.check("copy to the GPU", status(call(d.a.cuMemcpyHtoD, uintptr(base+uint64(metaOff)), uintptr(unsafePointer(int32Bytes(meta))), uintptr(4*len(meta))))) {
		return
	}
	idxPtr, tgtPtr := base+uint64(metaOff), base+uint64(metaOff)+uint64(4*k)
	xs, logits, dzbf, dxs := base+uint64(xsOff), base+uint64(logitsOff), base+uint64(dzbfOff), base+uint64(dxsOff)
	gather, bf := "gather_rows_f32", dt == compute.BF16
	if bf {
		gather = "gather_rows_bf16"
	}
	scalePtr, dzbfArg := uint64(0), uint64(0)
	if grads {
		scalePtr = d.p(scale)
		if bf {
			dzbfArg = dzbf
		}
	}
	cr := d.headRows(s)
	for c0 := 0; c0 < k; c0 += cr {
		m := min(cr, k-c0)
		rows := idxPtr + uint64(4*c0)
		d.elementwise(gather, int64(m)*int64(s.D), xs, d.p(x), rows, uint64(m), i32(s.D))
		d.gemm(logits, xs, d.p(w), dt, compute.GEMM{TransB: true, M: m, N: s.V, K: s.D, Alpha: 1}, 1, 0, 0, 0)
		d.launch("cross_entropy", d1(m), d1(rowThreads(s.V/4)), 0, logits, dzbfArg, d.p(rowLoss), idxPtr, tgtPtr, scalePtr, i32(s.V), i32(c0))
		if !grads {
			continue
		}
		dz := logits
		if bf {
			dz = dzbf
		}
		d.gemm(dxs, dz, d.p(w), dt, compute.GEMM{M: m, N: s.D, K: s.V, Alpha: 1}, 1, 0, 0, 0)
		d.elementwise("scatter_rows_f32", int64(m)*int64(s.D), d.p(dx), dxs, rows, uint64(m), i32(s.D))
		d.gemm(d.p(dw), dz, xs, dt, compute.GEMM{TransA: true, M: s.V, N: s.D, K: m, Alpha: 1, Beta: 1}, 1, 0, 0, 0)
	}
}
