//go:build linux

package cuda

import (
	"fmt"
	"math"
	"sort"

	"github.com/ordermerge/ordermerge/compute"
)

// p is a buffer's device address as a kernel argument.
func (d *Device) p(b compute.Buf) uint64 { return d.ptr(b) }

func i32(v int) uint64 { return uint64(uint32(int32(v))) }

// Cast converts between F32 and BF16 on the GPU.
func (d *Device) Cast(dst, src compute.Buf) {
	if dst.Len() != src.Len() {
		panic(fmt.Errorf("cast: %s into %s", src, dst))
	}
	unlock := d.enter()
	defer unlock()
	n := int64(dst.Len())
	switch {
	case dst.DType() == compute.BF16 && src.DType() == compute.F32:
		d.elementwise("cast_f32_bf16", n, d.p(dst), d.p(src), uint64(n))
	case dst.DType() == compute.F32 && src.DType() == compute.BF16:
		d.elementwise("cast_bf16_f32", n, d.p(dst), d.p(src), uint64(n))
	case dst.DType() == src.DType():
		d.check("copy on the GPU", status(call(d.a.cuMemcpyDtoD, uintptr(d.p(dst)), uintptr(d.p(src)), uintptr(n*int64(dst.DType().Size())))))
	default:
		panic(fmt.Errorf("cast: %s into %s", src, dst))
	}
}

// Embedding gathers rows of table.
func (d *Device) Embedding(out, table, ids compute.Buf, dim int) {
	n := ids.Len()
	compute.CheckLen("embedding", "out", out, n*dim, compute.F32)
	compute.CheckLen("embedding", "ids", ids, n, compute.I32)
	unlock := d.enter()
	defer unlock()
	d.elementwise("embedding_forward", int64(n)*int64(dim), d.p(out), d.p(table), d.p(ids), uint64(n), i32(dim))
}

// EmbeddingBackward groups the rows by token on the host, uploads the grouping, and sums
// each token's rows in position order on the GPU.
func (d *Device) EmbeddingBackward(dtable, dout compute.Buf, ids []int32, dim int) {
	n := len(ids)
	compute.CheckLen("embedding backward", "dout", dout, n*dim, compute.F32)
	rows := dtable.Len() / max(dim, 1)
	order := make([]int32, n)
	for i, id := range ids {
		if id < 0 || int(id) >= rows {
			panic(fmt.Errorf("embedding backward: row %d has id %d outside the table's %d rows", i, id, rows))
		}
		order[i] = int32(i)
	}
	sort.SliceStable(order, func(a, b int) bool { return ids[order[a]] < ids[order[b]] })
	var uniq, offsets []int32
	for k, r := range order {
		if k == 0 || ids[r] != ids[order[k-1]] {
			uniq = append(uniq, ids[r])
			offsets = append(offsets, int32(k))
		}
	}
	offsets = append(offsets, int32(n))
	meta := append(append(append([]int32(nil), uniq...), offsets...), order...)
	if n == 0 {
		return
	}
	unlock := d.enter()
	defer unlock()
	buf := d.scratchPtr(int64(4 * len(meta)))
	if !d.check("copy to the GPU", status(call(d.a.cuMemcpyHtoD, uintptr(buf), uintptr(unsafePointer(int32Bytes(meta))), uintptr(4*len(meta))))) {
		return
	}
	u := len(uniq)
	d.launch("embedding_backward", d2(u, (dim+threads-1)/threads), d1(threads), 0,
		d.p(dtable), d.p(dout), buf, buf+uint64(4*u), buf+uint64(4*(2*u+1)), i32(dim))
}

// layoutArgs are the strided-vector arguments of the norm kernels (all zero for packed rows).
func layoutArgs(s compute.Norm) []uint64 {
	if !s.Strided() {
		return []uint64{0, 0, 0}
	}
	return []uint64{i32(s.LD), i32(s.Col), i32(max(s.Group, 1))}
}

// RMSNorm normalises vectors (one block per vector).
func (d *Device) RMSNorm(out, rstd, x, w compute.Buf, s compute.Norm) {
	s.Check("rmsnorm", map[string]compute.Buf{"out": out, "rstd": rstd, "x": x, "w": w})
	unlock := d.enter()
	defer unlock()
	args := append([]uint64{d.p(out), d.p(rstd), d.p(x), d.p(w), i32(s.D), f32bits(s.Eps)}, layoutArgs(s)...)
	d.launch(outKernel("rmsnorm_forward", out), d1(s.Rows), d1(rowThreads(s.D/4)), 0, args...)
}

// RMSNormApply recomputes RMSNorm's output.
func (d *Device) RMSNormApply(out, x, w, rstd compute.Buf, s compute.Norm) {
	s.Check("rmsnorm apply", map[string]compute.Buf{"out": out, "rstd": rstd, "x": x, "w": w})
	unlock := d.enter()
	defer unlock()
	n := int64(s.Rows) * int64(s.D)
	args := append([]uint64{d.p(out), d.p(x), d.p(w), d.p(rstd), uint64(s.Rows), i32(s.D)}, layoutArgs(s)...)
	d.elementwise(outKernel("rmsnorm_apply", out), n, args...)
}

// outKernel is the kernel writing out: name for an F32 out, its _bf16 twin (the same values
// rounded to bfloat16) for a BF16 one.
func outKernel(name string, out compute.Buf) string {
	if out.DType() == compute.BF16 {
		return name + "_bf16"
	}
	return name
}

// normChunk is the number of rows each partial sum of a weight or bias gradient covers.
const normChunk = 256

// RMSNormBackward adds (or with Replace, writes) dx per vector, and adds dw by fixed chunks
// of vectors. dw goes first: with Replace, dx may be dout. dxb gets dx's bf16 copy in the same
// pass.
func (d *Device) RMSNormBackward(dx, dxb, dw, dout, x, w, rstd compute.Buf, s compute.Norm) {
	s.Check("rmsnorm backward", map[string]compute.Buf{"dx": dx, "dxb": dxb, "dw": dw, "dout": dout, "x": x, "w": w, "rstd": rstd})
	unlock := d.enter()
	defer unlock()
	la := layoutArgs(s)
	chunks := (s.Rows + normChunk - 1) / normChunk
	part := d.scratchPtr(int64(4 * chunks * s.D))
	cols := (s.D + threads - 1) / threads
	d.launch("rmsnorm_backward_dw_partial", d2(cols, chunks), d1(threads), 0, append([]uint64{part, d.p(dout), d.p(x), d.p(rstd), uint64(s.Rows), i32(s.D), i32(normChunk)}, la...)...)
	d.launch("sum_chunks", d1(cols), d1(threads), 0, d.p(dw), part, i32(chunks), i32(s.D))
	replace := uint64(0)
	if s.Replace {
		replace = 1
	}
	d.launch("rmsnorm_backward_dx", d1(s.Rows), d1(rowThreads(s.D/4)), 0, append(append([]uint64{d.p(dx), d.p(dxb), d.p(dout), d.p(x), d.p(w), d.p(rstd), i32(s.D)}, la...), replace)...)
}

// AddBias adds a bias to every row.
func (d *Device) AddBias(x, b compute.Buf, rows, cols int) {
	compute.CheckLen("add bias", "x", x, rows*cols, compute.F32)
	compute.CheckLen("add bias", "b", b, cols, compute.F32)
	unlock := d.enter()
	defer unlock()
	d.elementwise("add_bias", int64(rows)*int64(cols), d.p(x), d.p(b), uint64(rows), i32(cols))
}

// BiasGrad adds the column sums of dout to db, by fixed chunks of rows.
func (d *Device) BiasGrad(db, dout compute.Buf, rows, cols int) {
	compute.CheckLen("bias gradient", "dout", dout, rows*cols, compute.F32)
	compute.CheckLen("bias gradient", "db", db, cols, compute.F32)
	unlock := d.enter()
	defer unlock()
	chunks := (rows + normChunk - 1) / normChunk
	part := d.scratchPtr(int64(4 * chunks * cols))
	blocks := (cols + threads - 1) / threads
	d.launch("bias_partial", d2(blocks, chunks), d1(threads), 0, part, d.p(dout), uint64(rows), i32(cols), i32(normChunk))
	d.launch("sum_chunks", d1(blocks), d1(threads), 0, d.p(db), part, i32(chunks), i32(cols))
}

// RoPE rotates heads in place, or into a bf16 copy of x.
func (d *Device) RoPE(out, x, pos compute.Buf, t compute.RoPETable, s compute.RoPEShape, inverse bool) {
	inPlace := s.Check("rope", out, x)
	compute.CheckLen("rope", "pos", pos, s.Rows, compute.I32)
	compute.CheckLen("rope", "cos", t.Cos, t.MaxPos*s.HeadDim/2, compute.F32)
	sign := float32(1)
	if inverse {
		sign = -1
	}
	unlock := d.enter()
	defer unlock()
	n := int64(s.Rows) * int64(s.Heads*s.HeadDim/2)
	args := []uint64{d.p(pos), d.p(t.Cos), d.p(t.Sin), uint64(s.Rows), i32(s.LD), i32(s.Col), i32(s.Heads), i32(s.HeadDim), f32bits(sign)}
	if inPlace {
		d.elementwise("rope", n, append([]uint64{d.p(x)}, args...)...)
		return
	}
	d.elementwise("rope_bf16", max(n, int64(s.Rows)*int64(s.LD-s.Heads*s.HeadDim)), append([]uint64{d.p(out), d.p(x)}, args...)...)
}

// SwiGLU is the gated MLP activation.
func (d *Device) SwiGLU(h, gu compute.Buf, rows, f int) {
	compute.CheckOut("swiglu", "h", h, rows*f)
	compute.CheckLen("swiglu", "gu", gu, 2*rows*f, compute.F32)
	unlock := d.enter()
	defer unlock()
	d.elementwise(outKernel("swiglu_forward", h), int64(rows)*int64(f), d.p(h), d.p(gu), uint64(rows), i32(f))
}

// SwiGLUBackward is its gradient.
func (d *Device) SwiGLUBackward(dgu, h, dh, gu compute.Buf, rows, f int) {
	compute.CheckOut("swiglu backward", "dgu", dgu, 2*rows*f)
	compute.CheckLen("swiglu backward", "h", h, rows*f, dgu.DType())
	compute.CheckLen("swiglu backward", "dh", dh, rows*f, compute.F32)
	compute.CheckLen("swiglu backward", "gu", gu, 2*rows*f, compute.F32)
	unlock := d.enter()
	defer unlock()
	d.elementwise(outKernel("swiglu_backward", dgu), int64(rows)*int64(f), d.p(dgu), d.p(h), d.p(dh), d.p(gu), uint64(rows), i32(f))
}

// Add sets out = a + b.
func (d *Device) Add(out, a, b compute.Buf) {
	compute.CheckLen("add", "a", a, out.Len(), compute.F32)
	compute.CheckLen("add", "b", b, out.Len(), compute.F32)
	unlock := d.enter()
	defer unlock()
	d.elementwise("add_f32", int64(out.Len()), d.p(out), d.p(a), d.p(b), uint64(out.Len()))
}

// AddTo adds src to dst.
func (d *Device) AddTo(dst, src compute.Buf) {
	compute.CheckLen("add", "src", src, dst.Len(), compute.F32)
	unlock := d.enter()
	defer unlock()
	d.elementwise("add_to_f32", int64(dst.Len()), d.p(dst), d.p(src), uint64(dst.Len()))
}

// GatherRows copies selected rows.
func (d *Device) GatherRows(dst, src, rows compute.Buf, dim int) {
	k := rows.Len()
	compute.CheckLen("gather rows", "dst", dst, k*dim, compute.F32)
	compute.CheckLen("gather rows", "rows", rows, k, compute.I32)
	unlock := d.enter()
	defer unlock()
	d.elementwise("gather_rows_f32", int64(k)*int64(dim), d.p(dst), d.p(src), d.p(rows), uint64(k), i32(dim))
}

// ArgMax finds each row's largest value on the GPU.
func (d *Device) ArgMax(out, x compute.Buf, rows, n int) {
	compute.CheckLen("argmax", "out", out, rows, compute.I32)
	compute.CheckLen("argmax", "x", x, rows*n, compute.F32)
	unlock := d.enter()
	defer unlock()
	d.launch("argmax", d1(rows), d1(256), 0, d.p(out), d.p(x), i32(n))
}

// sumChunk is the fixed partition of the gradient norm's partial sums (as on the CPU).
const sumChunk = 1 << 15

// SumSquares sums squares in float64: per fixed chunk of each buffer, then the chunks in
// a fixed tree; it waits for the result.
func (d *Device) SumSquares(bufs []compute.Buf) (float64, error) {
	chunks := 0
	for _, b := range bufs {
		chunks += (b.Len() + sumChunk - 1) / sumChunk
	}
	if chunks == 0 {
		return 0, d.Sync()
	}
	unlock := d.enter()
	part := d.scratchPtr(int64(8 * (chunks + 1)))
	first := 0
	for _, b := range bufs {
		n := (b.Len() + sumChunk - 1) / sumChunk
		compute.CheckLen("sum of squares", "buffer", b, b.Len(), compute.F32)
		d.launch("sumsq_partial", d1(n), d1(256), 0, part, d.p(b), uint64(b.Len()), i32(sumChunk), i32(first))
		first += n
	}
	out := part + uint64(8*chunks)
	d.launch("sum_doubles", d1(1), d1(256), 0, out, part, i32(chunks))
	var host [8]byte
	ok := d.check("copy from the GPU", status(call(d.a.cuMemcpyDtoH, uintptr(unsafePointer(host[:])), uintptr(out), 8)))
	unlock()
	if !ok {
		return 0, d.firstErr()
	}
	if err := d.firstErr(); err != nil {
		return 0, err
	}
	return math.Float64frombits(leU64(host[:])), nil
}

func leU64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// AdamW applies the update with the CPU device's float64 arithmetic, one launch per
// parameter.
func (d *Device) AdamW(params []compute.AdamWParam, s compute.AdamWStep) {
	bc1 := 1 - math.Pow(s.Beta1, float64(s.Step))
	bc2 := 1 - math.Pow(s.Beta2, float64(s.Step))
	stepSize := s.LR / bc1
	sqrtBC2 := math.Sqrt(bc2)
	unlock := d.enter()
	defer unlock()
	for i, p := range params {
		n := p.Value.Len()
		for name, b := range map[string]compute.Buf{"grad": p.Grad, "m": p.M, "v": p.V} {
			if b.Len() != n {
				panic(fmt.Errorf("adamw: parameter %d: %s has %d elements, the value %d", i, name, b.Len(), n))
			}
		}
		decay := 1 - s.LR*s.WeightDecay
		if p.NoDecay {
			decay = 1
		}
		d.elementwise("adamw", int64(n), d.p(p.Value), d.p(p.Grad), d.p(p.M), d.p(p.V), uint64(n),
			f64bits(s.Beta1), f64bits(s.Beta2), f64bits(s.Eps), f64bits(decay), f64bits(stepSize), f64bits(sqrtBC2), f64bits(s.GradScale))
	}
}
