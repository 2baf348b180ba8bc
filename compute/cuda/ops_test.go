//go:build linux

package cuda_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"github.com/ordermerge/ordermerge/tensor"
)

// pair holds one buffer on the CPU device and its copy on the GPU.
type pair struct {
	c, g compute.Buf
}

type devs struct {
	t   *testing.T
	cpu *cpu.Device
	gpu compute.Device
	rng *seeded.RNG
}

func newDevs(t *testing.T) *devs {
	return &devs{t: t, cpu: cpu.NewDevice(cpu.NewGoBackend(2)), gpu: device(t), rng: seeded.New(7)}
}

// random makes a buffer of n values drawn from N(0, std) (rounded to bf16 for BF16).
func (d *devs) random(dt compute.DType, n int, std float64) pair {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(d.rng.Normal() * std)
	}
	return d.from(dt, v)
}

func (d *devs) from(dt compute.DType, v []float32) pair {
	d.t.Helper()
	var p pair
	var err error
	if p.c, err = d.cpu.Alloc(dt, len(v)); err != nil {
		d.t.Fatal(err)
	}
	if p.g, err = d.gpu.Alloc(dt, len(v)); err != nil {
		d.t.Fatal(err)
	}
	if err := d.cpu.WriteF32(p.c, v); err != nil {
		d.t.Fatal(err)
	}
	if err := d.gpu.WriteF32(p.g, v); err != nil {
		d.t.Fatal(err)
	}
	return p
}

func (d *devs) ints(v []int32) pair {
	d.t.Helper()
	var p pair
	var err error
	if p.c, err = d.cpu.Alloc(compute.I32, len(v)); err != nil {
		d.t.Fatal(err)
	}
	if p.g, err = d.gpu.Alloc(compute.I32, len(v)); err != nil {
		d.t.Fatal(err)
	}
	if err := d.cpu.WriteI32(p.c, v); err != nil {
		d.t.Fatal(err)
	}
	if err := d.gpu.WriteI32(p.g, v); err != nil {
		d.t.Fatal(err)
	}
	return p
}

func (d *devs) zeros(n int) pair { return d.from(compute.F32, make([]float32, n)) }

// same checks that the GPU buffer holds the CPU's values within tol of the CPU tensor's
// largest magnitude (and that a NaN stands where the CPU has one).
func (d *devs) same(what string, p pair, tol float64) {
	d.t.Helper()
	want, err := compute.Read(p.c)
	if err != nil {
		d.t.Fatal(err)
	}
	got, err := compute.Read(p.g)
	if err != nil {
		d.t.Fatalf("%s: %v", what, err)
	}
	scale := 0.0
	for _, v := range want {
		if !math.IsNaN(float64(v)) {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
	}
	scale = math.Max(scale, 1e-30)
	worst, at := 0.0, -1
	for i := range want {
		if math.IsNaN(float64(want[i])) != math.IsNaN(float64(got[i])) {
			d.t.Fatalf("%s: element %d is %v on the GPU, %v on the CPU", what, i, got[i], want[i])
		}
		if e := math.Abs(float64(got[i])-float64(want[i])) / scale; e > worst {
			worst, at = e, i
		}
	}
	if worst > tol {
		d.t.Errorf("%s: element %d is %v on the GPU, %v on the CPU (relative error %.3g > %.3g)", what, at, got[at], want[at], worst, tol)
	}
}

const f32tol = 2e-5

func TestMatMul(t *testing.T) {
	d := newDevs(t)
	for _, dt := range []compute.DType{compute.F32, compute.BF16} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, beta := range []float32{0, 1, 0.5} {
				g := compute.GEMM{TransA: tr[0], TransB: tr[1], M: 37, N: 23, K: 45, Alpha: 0.75, Beta: beta}
				lda, ldb, ldc := 45+3, 23+5, 23+2 // wider than the rows
				if tr[0] {
					lda = 37 + 3
				}
				if tr[1] {
					ldb = 45 + 5
				}
				g.LDA, g.LDB, g.LDC = lda, ldb, ldc
				ar, br := 37, 45
				if tr[0] {
					ar = 45
				}
				if tr[1] {
					br = 23
				}
				a, b := d.random(dt, ar*lda, 1), d.random(dt, br*ldb, 1)
				c := d.random(compute.F32, 37*ldc, 1)
				d.cpu.MatMul(c.c, a.c, b.c, g)
				d.gpu.MatMul(c.g, a.g, b.g, g)
				d.same(fmt.Sprintf("%s matmul trans %v beta %v", dt, tr, beta), c, f32tol)
			}
		}
	}
	// TF32 products round the inputs to 10-bit mantissas: within 2^-10 or so of f32.
	a, b, c := d.random(compute.F32, 64*64, 1), d.random(compute.F32, 64*64, 1), d.zeros(64*64)
	g := compute.GEMM{TransB: true, M: 64, N: 64, K: 64, Alpha: 1, TF32: true}
	d.cpu.MatMul(c.c, a.c, b.c, g)
	d.gpu.MatMul(c.g, a.g, b.g, g)
	d.same("tf32 matmul", c, 4e-3)
}

func TestEmbeddingAndRows(t *testing.T) {
	d := newDevs(t)
	V, D := 17, 12
	ids := []int32{3, 0, 16, 3, 5, 3, 16, 1}
	table := d.random(compute.F32, V*D, 1)
	idb := d.ints(ids)
	out := d.zeros(len(ids) * D)
	d.cpu.Embedding(out.c, table.c, idb.c, D)
	d.gpu.Embedding(out.g, table.g, idb.g, D)
	d.same("embedding", out, 0)
	dout := d.random(compute.F32, len(ids)*D, 1)
	dt := d.random(compute.F32, V*D, 1) // adds to what is there
	d.cpu.EmbeddingBackward(dt.c, dout.c, ids, D)
	d.gpu.EmbeddingBackward(dt.g, dout.g, ids, D)
	d.same("embedding backward", dt, f32tol)
	rows := d.ints([]int32{7, 2, 2, 0})
	sel := d.zeros(4 * D)
	d.cpu.GatherRows(sel.c, out.c, rows.c, D)
	d.gpu.GatherRows(sel.g, out.g, rows.g, D)
	d.same("gather rows", sel, 0)
}

func TestRMSNorm(t *testing.T) {
	d := newDevs(t)
	for _, s := range []compute.Norm{{Rows: 5, D: 16, Eps: 1e-5}, {Rows: 300, D: 37, Eps: 1e-6}, {Rows: 3, D: 1030, Eps: 1e-5}} {
		x, w := d.random(compute.F32, s.Rows*s.D, 1), d.random(compute.F32, s.D, 1)
		out, rstd := d.zeros(s.Rows*s.D), d.zeros(s.Rows)
		d.cpu.RMSNorm(out.c, rstd.c, x.c, w.c, s)
		d.gpu.RMSNorm(out.g, rstd.g, x.g, w.g, s)
		d.same("rmsnorm", out, f32tol)
		d.same("rmsnorm rstd", rstd, f32tol)
		again := d.zeros(s.Rows * s.D)
		d.cpu.RMSNormApply(again.c, x.c, w.c, rstd.c, s)
		d.gpu.RMSNormApply(again.g, x.g, w.g, rstd.g, s)
		d.same("rmsnorm apply", again, f32tol)
		dout := d.random(compute.F32, s.Rows*s.D, 1)
		dx, dw := d.random(compute.F32, s.Rows*s.D, 1), d.random(compute.F32, s.D, 1)
		d.cpu.RMSNormBackward(dx.c, compute.Buf{}, dw.c, dout.c, x.c, w.c, rstd.c, s)
		d.gpu.RMSNormBackward(dx.g, compute.Buf{}, dw.g, dout.g, x.g, w.g, rstd.g, s)
		d.same("rmsnorm backward dx", dx, f32tol)
		d.same("rmsnorm backward dw", dw, 1e-4)
	}
}

func TestRMSNormStridedAndBias(t *testing.T) {
	d := newDevs(t)
	rows, heads, hd, ld, col := 9, 3, 8, 61, 5
	s := compute.Norm{Rows: rows * heads, D: hd, Eps: 1e-6, LD: ld, Col: col, Group: heads}
	x, w := d.random(compute.F32, rows*ld, 1), d.random(compute.F32, hd, 1)
	out, rstd := d.random(compute.F32, rows*ld, 1), d.zeros(s.Rows)
	d.cpu.RMSNorm(out.c, rstd.c, x.c, w.c, s)
	d.gpu.RMSNorm(out.g, rstd.g, x.g, w.g, s)
	d.same("strided rmsnorm", out, f32tol)
	d.cpu.RMSNormApply(out.c, x.c, w.c, rstd.c, s)
	d.gpu.RMSNormApply(out.g, x.g, w.g, rstd.g, s)
	d.same("strided rmsnorm apply", out, f32tol)
	dout, dw := d.random(compute.F32, rows*ld, 1), d.zeros(hd)
	s.Replace = true // in place, as Qwen3's q/k norms use it
	d.cpu.RMSNormBackward(dout.c, compute.Buf{}, dw.c, dout.c, x.c, w.c, rstd.c, s)
	d.gpu.RMSNormBackward(dout.g, compute.Buf{}, dw.g, dout.g, x.g, w.g, rstd.g, s)
	d.same("strided rmsnorm backward in place", dout, f32tol)
	d.same("strided rmsnorm dw", dw, 1e-4)
	b := d.random(compute.F32, 37, 1)
	xb := d.random(compute.F32, 300*37, 1)
	d.cpu.AddBias(xb.c, b.c, 300, 37)
	d.gpu.AddBias(xb.g, b.g, 300, 37)
	d.same("add bias", xb, 0)
	db := d.random(compute.F32, 37, 1)
	d.cpu.BiasGrad(db.c, xb.c, 300, 37)
	d.gpu.BiasGrad(db.g, xb.g, 300, 37)
	d.same("bias gradient", db, 1e-5)
}

func TestRoPE(t *testing.T) {
	d := newDevs(t)
	hd, maxPos := 8, 20
	inv, _ := compute.RoPEInvFreq(hd, 10000)
	tc, err := compute.NewRoPETable(d.cpu, maxPos, inv)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := compute.NewRoPETable(d.gpu, maxPos, inv)
	if err != nil {
		t.Fatal(err)
	}
	s := compute.RoPEShape{Rows: 6, LD: 40, Col: 4, Heads: 3, HeadDim: hd}
	x := d.random(compute.F32, 6*40, 1)
	pos := d.ints([]int32{0, 1, 19, 5, 5, 2})
	for _, inverse := range []bool{false, true} {
		d.cpu.RoPE(x.c, x.c, pos.c, tc, s, inverse)
		d.gpu.RoPE(x.g, x.g, pos.g, tg, s, inverse)
		d.same(fmt.Sprintf("rope inverse=%v", inverse), x, f32tol)
	}
}

func TestSwiGLUAndAdds(t *testing.T) {
	d := newDevs(t)
	rows, f := 7, 19
	gu := d.random(compute.F32, 2*rows*f, 2)
	h := d.zeros(rows * f)
	d.cpu.SwiGLU(h.c, gu.c, rows, f)
	d.gpu.SwiGLU(h.g, gu.g, rows, f)
	d.same("swiglu", h, f32tol)
	dh, dgu, h2 := d.random(compute.F32, rows*f, 1), d.zeros(2*rows*f), d.zeros(rows*f)
	d.cpu.SwiGLUBackward(dgu.c, h2.c, dh.c, gu.c, rows, f)
	d.gpu.SwiGLUBackward(dgu.g, h2.g, dh.g, gu.g, rows, f)
	d.same("swiglu backward", dgu, f32tol)
	d.same("swiglu backward h", h2, f32tol)
	a, b, out := d.random(compute.F32, 1000, 1), d.random(compute.F32, 1000, 1), d.zeros(1000)
	d.cpu.Add(out.c, a.c, b.c)
	d.gpu.Add(out.g, a.g, b.g)
	d.same("add", out, 0)
	d.cpu.AddTo(a.c, b.c)
	d.gpu.AddTo(a.g, b.g)
	d.same("add to", a, 0)
	d.cpu.Copy(b.c, a.c)
	d.gpu.Copy(b.g, a.g)
	d.same("copy", b, 0)
	d.cpu.Zero(b.c.Slice(100, 300))
	d.gpu.Zero(b.g.Slice(100, 300))
	d.same("zero", b, 0)
}

func TestCastAndBF16Transfers(t *testing.T) {
	d := newDevs(t)
	v := []float32{1, 1.00390625, 1.005859375, -3.14159, 65504, 1e-30, float32(math.Inf(-1)), float32(math.NaN()), 3.4e38}
	src := d.from(compute.F32, v)
	dst := d.from(compute.BF16, make([]float32, len(v)))
	d.cpu.Cast(dst.c, src.c)
	d.gpu.Cast(dst.g, src.g)
	d.same("cast f32 to bf16", dst, 0)
	got, _ := compute.Read(dst.g)
	for i, x := range v {
		if want := tensor.Float32FromBF16(tensor.BF16FromFloat32(x)); !(got[i] == want || math.IsNaN(float64(want)) && math.IsNaN(float64(got[i]))) {
			t.Errorf("bf16(%v) = %v on the GPU, want %v", x, got[i], want)
		}
	}
	back := d.zeros(len(v))
	d.cpu.Cast(back.c, dst.c)
	d.gpu.Cast(back.g, dst.g)
	d.same("cast bf16 to f32", back, 0)
	// The kernel takes four values a thread where both ends are aligned for it: aligned,
	// misaligned on either side, and a tail that is not a multiple of four.
	big := d.random(compute.F32, 4099, 3)
	for _, off := range []struct{ src, dst int }{{0, 0}, {1, 0}, {0, 1}, {4, 2}, {3, 3}} {
		n := 4099 - max(off.src, off.dst)
		out := d.from(compute.BF16, make([]float32, 4099))
		d.cpu.Cast(out.c.Slice(off.dst, off.dst+n), big.c.Slice(off.src, off.src+n))
		d.gpu.Cast(out.g.Slice(off.dst, off.dst+n), big.g.Slice(off.src, off.src+n))
		d.same(fmt.Sprintf("cast f32 to bf16 at offsets %+v", off), out, 0)
	}
}

func TestAttention(t *testing.T) {
	d := newDevs(t)
	for _, tc := range []struct {
		prec   compute.Precision
		window int
	}{{compute.PrecisionF32, 0}, {compute.PrecisionBF16, 0}, {compute.PrecisionF32, 7}} {
		prec := tc.prec
		s := compute.AttentionShape{B: 2, T: 37, Heads: 4, KVHeads: 2, HeadDim: 8, Precision: prec, Window: tc.window}
		tol := f32tol * 10
		if prec == compute.PrecisionBF16 {
			tol = 3e-2
		}
		n := s.B * s.T
		qkv := d.random(compute.F32, n*s.QKVWidth(), 1)
		out, att := d.zeros(n*s.Heads*s.HeadDim), d.zeros(s.ProbsSize())
		scratchC := d.zeros(max(1, d.cpu.AttentionScratch(s, true)))
		scratchG := d.zeros(max(1, d.gpu.AttentionScratch(s, true)))
		d.cpu.Attention(out.c, att.c, qkv.c, scratchC.c, s)
		d.gpu.Attention(out.g, att.g, qkv.g, scratchG.g, s)
		d.same(fmt.Sprintf("%s attention (window %d)", prec, tc.window), out, tol)
		d.same(fmt.Sprintf("%s attention probabilities (window %d)", prec, tc.window), att, tol)
		dout := d.random(compute.F32, n*s.Heads*s.HeadDim, 1)
		dqkv := d.zeros(n * s.QKVWidth())
		d.cpu.AttentionBackward(dqkv.c, dout.c, qkv.c, att.c, scratchC.c, s)
		d.gpu.AttentionBackward(dqkv.g, dout.g, qkv.g, att.g, scratchG.g, s)
		d.same(fmt.Sprintf("%s attention backward (window %d)", prec, tc.window), dqkv, tol)
	}
}

func TestCachedAttention(t *testing.T) {
	for _, window := range []int{0, 4} {
		testCachedAttention(t, window)
	}
}

func testCachedAttention(t *testing.T, window int) {
	d := newDevs(t)
	s := compute.KVCacheShape{Slots: 3, MaxLen: 20, Heads: 4, KVHeads: 2, HeadDim: 8, Window: window}
	w := (s.Heads + 2*s.KVHeads) * s.HeadDim
	kc, vc := d.zeros(s.CacheSize()), d.zeros(s.CacheSize())
	steps := [][]compute.CachedSeq{
		{{Slot: 0, Row: 0, Count: 5}, {Slot: 1, Row: 5, Count: 3}, {Slot: 2, Row: 8, Count: 0}},
		{{Slot: 0, Row: 0, Count: 1, Past: 5}, {Slot: 1, Row: 1, Count: 1, Past: 3}, {Slot: 2, Row: 2, Count: 2}},
	}
	for i, seqs := range steps {
		rows := 0
		for _, q := range seqs {
			rows = max(rows, q.Row+q.Count)
		}
		qkv := d.random(compute.F32, rows*w, 1)
		out := d.zeros(rows * s.Heads * s.HeadDim)
		d.cpu.KVAppend(kc.c, vc.c, qkv.c, s, seqs)
		d.gpu.KVAppend(kc.g, vc.g, qkv.g, s, seqs)
		scC := d.zeros(max(1, d.cpu.AttentionCachedScratch(s, seqs)))
		scG := d.zeros(max(1, d.gpu.AttentionCachedScratch(s, seqs)))
		d.cpu.AttentionCached(out.c, qkv.c, kc.c, vc.c, scC.c, s, seqs)
		d.gpu.AttentionCached(out.g, qkv.g, kc.g, vc.g, scG.g, s, seqs)
		d.same(fmt.Sprintf("window %d step %d: cached attention", window, i), out, f32tol*10)
		d.same(fmt.Sprintf("step %d: key cache", i), kc, 0)
		d.same(fmt.Sprintf("step %d: value cache", i), vc, 0)
	}
}

func TestHeadLoss(t *testing.T) {
	d := newDevs(t)
	for _, dt := range []compute.DType{compute.F32, compute.BF16} {
		n, D, V := 40, 6, 23
		s := compute.HeadShape{Rows: n, D: D, V: V}
		x, w := d.random(dt, n*D, 1), d.random(dt, V*D, 1)
		targets := make([]int32, n)
		scale := make([]float32, n)
		for i := range targets {
			targets[i] = int32(d.rng.Intn(V))
			scale[i] = float32(d.rng.Float64())
			if i%3 == 1 {
				targets[i] = -1 // no loss, no gradient
			}
		}
		sc := d.from(compute.F32, scale)
		loss, dx, dw := d.random(compute.F32, n, 1), d.random(compute.F32, n*D, 1), d.random(compute.F32, V*D, 1)
		scrC := d.zeros(d.cpu.HeadLossScratch(s))
		scrG := d.zeros(d.gpu.HeadLossScratch(s))
		d.cpu.HeadLoss(loss.c, x.c, w.c, sc.c, dx.c, dw.c, scrC.c, targets, s)
		d.gpu.HeadLoss(loss.g, x.g, w.g, sc.g, dx.g, dw.g, scrG.g, targets, s)
		tol := f32tol
		if dt == compute.BF16 {
			tol = 2e-2 // the GPU rounds the logits' gradient to bf16 for its products
		}
		d.same(fmt.Sprintf("%s head loss", dt), loss, f32tol)
		d.same(fmt.Sprintf("%s head loss dx", dt), dx, tol)
		d.same(fmt.Sprintf("%s head loss dw", dt), dw, tol)
		loss2 := d.random(compute.F32, n, 1)
		d.cpu.HeadLoss(loss2.c, x.c, w.c, compute.Buf{}, compute.Buf{}, compute.Buf{}, scrC.c, targets, s)
		d.gpu.HeadLoss(loss2.g, x.g, w.g, compute.Buf{}, compute.Buf{}, compute.Buf{}, scrG.g, targets, s)
		d.same(fmt.Sprintf("%s head loss without gradients", dt), loss2, f32tol)
	}
}

func TestArgMax(t *testing.T) {
	d := newDevs(t)
	nan := float32(math.NaN())
	x := d.from(compute.F32, []float32{
		1, 5, 5, 2, // tie: the lowest index
		nan, -1, -3, -2,
		nan, nan, nan, nan,
		-7, -7, -7, -8,
	})
	out := d.ints(make([]int32, 4))
	d.cpu.ArgMax(out.c, x.c, 4, 4)
	d.gpu.ArgMax(out.g, x.g, 4, 4)
	want, got := make([]int32, 4), make([]int32, 4)
	if err := d.cpu.ReadI32(want, out.c); err != nil {
		t.Fatal(err)
	}
	if err := d.gpu.ReadI32(got, out.g); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: argmax %d on the GPU, %d on the CPU", i, got[i], want[i])
		}
	}
	big := d.random(compute.F32, 3*5000, 1)
	out3 := d.ints(make([]int32, 3))
	d.cpu.ArgMax(out3.c, big.c, 3, 5000)
	d.gpu.ArgMax(out3.g, big.g, 3, 5000)
	g3, w3 := make([]int32, 3), make([]int32, 3)
	_ = d.gpu.ReadI32(g3, out3.g)
	_ = d.cpu.ReadI32(w3, out3.c)
	if fmt.Sprint(g3) != fmt.Sprint(w3) {
		t.Errorf("argmax of long rows: %v on the GPU, %v on the CPU", g3, w3)
	}
}

func TestOptimizer(t *testing.T) {
	d := newDevs(t)
	sizes := []int{5, 1 << 15, 1<<15 + 3, 70000}
	var params []struct{ w, g, m, v pair }
	var gc, gg []compute.Buf
	for _, n := range sizes {
		p := struct{ w, g, m, v pair }{d.random(compute.F32, n, 1), d.random(compute.F32, n, 0.1), d.random(compute.F32, n, 0.01), d.from(compute.F32, make([]float32, n))}
		params = append(params, p)
		gc, gg = append(gc, p.g.c), append(gg, p.g.g)
	}
	sc, err := d.cpu.SumSquares(gc)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := d.gpu.SumSquares(gg)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(sc-sg) > 1e-12*sc {
		t.Errorf("sum of squares %.17g on the GPU, %.17g on the CPU", sg, sc)
	}
	for step := 1; step <= 3; step++ {
		var pc, pg []compute.AdamWParam
		for i, p := range params {
			pc = append(pc, compute.AdamWParam{Value: p.w.c, Grad: p.g.c, M: p.m.c, V: p.v.c, NoDecay: i == 0})
			pg = append(pg, compute.AdamWParam{Value: p.w.g, Grad: p.g.g, M: p.m.g, V: p.v.g, NoDecay: i == 0})
		}
		s := compute.AdamWStep{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, GradScale: 0.7, Step: step}
		d.cpu.AdamW(pc, s)
		d.gpu.AdamW(pg, s)
	}
	for i, p := range params {
		// The same float64 arithmetic on the same inputs: the same bits.
		d.same(fmt.Sprintf("adamw values %d", i), p.w, 0)
		d.same(fmt.Sprintf("adamw first moment %d", i), p.m, 0)
		d.same(fmt.Sprintf("adamw second moment %d", i), p.v, 0)
	}
}
