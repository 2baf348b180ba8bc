package cpu

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/internal/parallel"
	"github.com/ordermerge/ordermerge/tensor"
)

// Device is the CPU as a compute.Device: buffers are Go slices, matrix products go to a
// Backend (OpenBLAS or pure Go) and everything else is Go split over the backend's threads
// on fixed partitions, so results repeat bit for bit for the same backend and thread count.
// Operations run synchronously on the calling goroutine (and its workers).
type Device struct {
	be          Backend
	inUse, peak atomic.Int64
}

// NewDevice returns a CPU device computing with be (nil: DefaultBackend()).
func NewDevice(be Backend) *Device {
	if be == nil {
		be = DefaultBackend()
	}
	return &Device{be: be}
}

// Backend is the matrix-multiply backend the device uses.
func (d *Device) Backend() Backend { return d.be }

// Name is "cpu".
func (d *Device) Name() string { return "cpu" }

// Describe names the backend and its threads.
func (d *Device) Describe() string {
	s := fmt.Sprintf("cpu: %s backend, %d threads", d.be.Name(), d.be.Threads())
	if d.be.Name() == BackendOpenBLAS {
		s += " (OpenBLAS " + OpenBLASCore() + ")"
	}
	return s
}

// storage is a CPU allocation: float32 values for F32 and BF16 (BF16 ones hold values
// rounded to bfloat16), int32 values for I32.
type storage struct {
	dev *Device
	dt  compute.DType
	f   []float32
	i   []int32
}

func (s *storage) Device() compute.Device { return s.dev }
func (s *storage) DType() compute.DType   { return s.dt }
func (s *storage) Len() int {
	if s.dt == compute.I32 {
		return len(s.i)
	}
	return len(s.f)
}

// Alloc returns n zeroed elements.
func (d *Device) Alloc(dt compute.DType, n int) (compute.Buf, error) {
	if n < 0 {
		return compute.Buf{}, fmt.Errorf("cpu: allocate %d elements", n)
	}
	st := &storage{dev: d, dt: dt}
	switch dt {
	case compute.F32, compute.BF16:
		st.f = make([]float32, n)
	case compute.I32:
		st.i = make([]int32, n)
	default:
		return compute.Buf{}, fmt.Errorf("cpu: allocate dtype %v", dt)
	}
	bytes := int64(4 * n)
	now := d.inUse.Add(bytes)
	for {
		p := d.peak.Load()
		if now <= p || d.peak.CompareAndSwap(p, now) {
			break
		}
	}
	runtime.AddCleanup(st, func(n int64) { d.inUse.Add(-n) }, bytes)
	return compute.Whole(st), nil
}

// Wrap returns a buffer over a host slice the caller owns (F32, no copy): how host models
// (a plain-Go model, the gorgonia adapter) give the trainer their parameters.
func (d *Device) Wrap(v []float32) compute.Buf {
	return compute.Whole(&storage{dev: d, dt: compute.F32, f: v})
}

// F32 returns the host slice behind a float buffer (F32 or BF16) of a CPU device. It panics
// for a buffer of another device or dtype.
func F32(b compute.Buf) []float32 {
	if b.IsZero() {
		return nil
	}
	st, ok := b.Storage().(*storage)
	if !ok || st.dt == compute.I32 {
		panic(fmt.Errorf("cpu: %s is not a float buffer of the CPU device", b))
	}
	return st.f[b.Offset() : b.Offset()+b.Len() : b.Offset()+b.Len()]
}

// I32 returns the host slice behind an I32 buffer of a CPU device.
func I32(b compute.Buf) []int32 {
	if b.IsZero() {
		return nil
	}
	st, ok := b.Storage().(*storage)
	if !ok || st.dt != compute.I32 {
		panic(fmt.Errorf("cpu: %s is not an i32 buffer of the CPU device", b))
	}
	return st.i[b.Offset() : b.Offset()+b.Len() : b.Offset()+b.Len()]
}

// own checks that b belongs to d (any CPU device works: the memory is the same).
func own(op string, b compute.Buf) {
	if b.IsZero() {
		return
	}
	if _, ok := b.Storage().(*storage); !ok {
		panic(fmt.Errorf("%s: %s is not a buffer of the CPU device", op, b))
	}
}

func roundBF16(v []float32) {
	for i, x := range v {
		v[i] = tensor.Float32FromBF16(tensor.BF16FromFloat32(x))
	}
}

// WriteF32 copies src into dst.
func (d *Device) WriteF32(dst compute.Buf, src []float32) error {
	if len(src) != dst.Len() || (dst.DType() != compute.F32 && dst.DType() != compute.BF16) {
		return fmt.Errorf("cpu: write %d float32 values into %s", len(src), dst)
	}
	own("write", dst)
	out := F32(dst)
	copy(out, src)
	if dst.DType() == compute.BF16 {
		roundBF16(out)
	}
	return nil
}

// WriteI32 copies src into dst.
func (d *Device) WriteI32(dst compute.Buf, src []int32) error {
	if len(src) != dst.Len() || dst.DType() != compute.I32 {
		return fmt.Errorf("cpu: write %d int32 values into %s", len(src), dst)
	}
	own("write", dst)
	copy(I32(dst), src)
	return nil
}

// ReadF32 copies src into dst.
func (d *Device) ReadF32(dst []float32, src compute.Buf) error {
	if len(dst) != src.Len() || (src.DType() != compute.F32 && src.DType() != compute.BF16) {
		return fmt.Errorf("cpu: read %s into %d float32 values", src, len(dst))
	}
	own("read", src)
	copy(dst, F32(src))
	return nil
}

// ReadI32 copies src into dst.
func (d *Device) ReadI32(dst []int32, src compute.Buf) error {
	if len(dst) != src.Len() || src.DType() != compute.I32 {
		return fmt.Errorf("cpu: read %s into %d int32 values", src, len(dst))
	}
	own("read", src)
	copy(dst, I32(src))
	return nil
}

// Copy copies src into dst.
func (d *Device) Copy(dst, src compute.Buf) {
	if dst.Len() != src.Len() || dst.DType() != src.DType() {
		panic(fmt.Errorf("copy: %s into %s", src, dst))
	}
	if dst.DType() == compute.I32 {
		copy(I32(dst), I32(src))
		return
	}
	copy(F32(dst), F32(src))
}

// Zero sets b to zero.
func (d *Device) Zero(b compute.Buf) {
	if b.DType() == compute.I32 {
		clear(I32(b))
		return
	}
	clear(F32(b))
}

// Cast converts between F32 and BF16 (rounding to nearest even).
func (d *Device) Cast(dst, src compute.Buf) {
	if dst.Len() != src.Len() {
		panic(fmt.Errorf("cast: %s into %s", src, dst))
	}
	out, in := F32(dst), F32(src)
	if dst.DType() == compute.BF16 && src.DType() == compute.F32 {
		parallel.For(d.be.Threads(), (len(out)+4095)/4096, func(lo, hi int) {
			lo, hi = lo*4096, min(hi*4096, len(out))
			copy(out[lo:hi], in[lo:hi])
			roundBF16(out[lo:hi])
		})
		return
	}
	copy(out, in)
}

// Sync has nothing to wait for: CPU operations are done when they return.
func (d *Device) Sync() error { return nil }

// MemoryStats reports the buffers allocated through Alloc (wrapped slices are not counted)
// and the machine's memory.
func (d *Device) MemoryStats() compute.MemoryStats {
	st := compute.MemoryStats{InUse: d.inUse.Load(), Peak: d.peak.Load()}
	st.Total, st.Free = hostMemory()
	return st
}

// hostMemory reads MemTotal and MemAvailable from /proc/meminfo (0, 0 where there is none).
func hostMemory() (total, avail int64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "MemTotal:":
			total = kb << 10
		case "MemAvailable:":
			avail = kb << 10
		}
	}
	return total, avail
}

// MatMul computes the product on the backend, split over its threads.
func (d *Device) MatMul(c, a, b compute.Buf, g compute.GEMM) {
	if err := g.Check(c, a, b); err != nil {
		panic(err)
	}
	lda, ldb, ldc := g.Lds()
	MatMul(d.be, g.TransA, g.TransB, g.M, g.N, g.K, g.Alpha, F32(a), lda, F32(b), ldb, g.Beta, F32(c), ldc)
}

// Embedding gathers rows of table.
func (d *Device) Embedding(out, table, ids compute.Buf, dim int) {
	n := ids.Len()
	compute.CheckLen("embedding", "out", out, n*dim, compute.F32)
	EmbeddingForward(d.be, F32(out), F32(table), I32(ids), dim)
}

// EmbeddingBackward scatters dout into dtable.
func (d *Device) EmbeddingBackward(dtable, dout compute.Buf, ids []int32, dim int) {
	compute.CheckLen("embedding backward", "dout", dout, len(ids)*dim, compute.F32)
	rows := dtable.Len() / max(dim, 1)
	for i, id := range ids {
		if id < 0 || int(id) >= rows {
			panic(fmt.Errorf("embedding backward: row %d has id %d outside the table's %d rows", i, id, rows))
		}
	}
	EmbeddingBackward(d.be, F32(dtable), F32(dout), ids, dim)
}

// RMSNorm normalises rows.
func (d *Device) RMSNorm(out, rstd, x, w compute.Buf, s compute.Norm) {
	s.Check("rmsnorm", map[string]compute.Buf{"out": out, "rstd": rstd, "x": x, "w": w})
	defer d.roundVectors(out, s)
	if s.Strided() {
		rmsNormForwardStrided(d.be, F32(out), F32(rstd), F32(x), F32(w), s)
		return
	}
	RMSNormForward(d.be, F32(out), F32(rstd), F32(x), F32(w), s.Rows, s.D, s.Eps)
}

// roundVectors rounds the vectors of a BF16 output to bfloat16 (nothing for an F32 one).
func (d *Device) roundVectors(out compute.Buf, s compute.Norm) {
	if out.DType() == compute.BF16 {
		d.roundCopy(F32(out), F32(out), s)
	}
}

// roundCopy sets dst's vectors to src's rounded to bfloat16 (dst and src of one layout).
func (d *Device) roundCopy(dst, src []float32, s compute.Norm) {
	if !s.Strided() {
		d.round(dst[:s.Rows*s.D], src[:s.Rows*s.D])
		return
	}
	parallel.For(d.be.Threads(), s.Rows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			at := s.Offset(r)
			for j := at; j < at+s.D; j++ {
				dst[j] = tensor.Float32FromBF16(tensor.BF16FromFloat32(src[j]))
			}
		}
	})
}

// round sets dst to src rounded to bfloat16, in parallel chunks.
func (d *Device) round(dst, src []float32) {
	parallel.For(d.be.Threads(), (len(dst)+4095)/4096, func(lo, hi int) {
		lo, hi = lo*4096, min(hi*4096, len(dst))
		for i := lo; i < hi; i++ {
			dst[i] = tensor.Float32FromBF16(tensor.BF16FromFloat32(src[i]))
		}
	})
}

// roundOut rounds a BF16 output to bfloat16 (nothing for an F32 one).
func (d *Device) roundOut(out compute.Buf) {
	if out.DType() == compute.BF16 {
		v := F32(out)
		d.round(v, v)
	}
}

// RMSNormApply recomputes RMSNorm's output.
func (d *Device) RMSNormApply(out, x, w, rstd compute.Buf, s compute.Norm) {
	s.Check("rmsnorm apply", map[string]compute.Buf{"out": out, "rstd": rstd, "x": x, "w": w})
	defer d.roundVectors(out, s)
	if s.Strided() {
		rmsNormApplyStrided(d.be, F32(out), F32(rstd), F32(x), F32(w), s)
		return
	}
	RMSNormApply(d.be, F32(out), F32(rstd), F32(x), F32(w), s.Rows, s.D)
}

// RMSNormBackward adds RMSNorm's gradient.
func (d *Device) RMSNormBackward(dx, dxb, dw, dout, x, w, rstd compute.Buf, s compute.Norm) {
	s.Check("rmsnorm backward", map[string]compute.Buf{"dx": dx, "dxb": dxb, "dw": dw, "dout": dout, "x": x, "w": w, "rstd": rstd})
	if !dxb.IsZero() {
		defer d.roundCopy(F32(dxb), F32(dx), s)
	}
	if s.Strided() || s.Replace {
		rmsNormBackwardStrided(d.be, F32(dx), F32(dw), F32(dout), F32(x), F32(w), F32(rstd), s)
		return
	}
	RMSNormBackward(d.be, F32(dx), F32(dw), F32(dout), F32(x), F32(w), F32(rstd), s.Rows, s.D)
}

// RoPE rotates heads in place, or into a bfloat16 copy of x.
func (d *Device) RoPE(out, x, pos compute.Buf, t compute.RoPETable, s compute.RoPEShape, inverse bool) {
	if !s.Check("rope", out, x) {
		copy(F32(out), F32(x))
		x = out
		defer d.roundOut(out)
	}
	compute.CheckLen("rope", "pos", pos, s.Rows, compute.I32)
	positions := I32(pos)[:s.Rows]
	for i, p := range positions {
		if p < 0 || int(p) >= t.MaxPos {
			panic(fmt.Errorf("rope: row %d has position %d outside the table's [0, %d)", i, p, t.MaxPos))
		}
	}
	sign := float32(1)
	if inverse {
		sign = -1
	}
	RoPEApply(d.be, F32(x), s.Rows, s.LD, s.Col, s.Heads, s.HeadDim, positions, F32(t.Cos), F32(t.Sin), sign)
}

func checkAttention(op string, s compute.AttentionShape, qkv, out, att compute.Buf) {
	if err := s.Check(); err != nil {
		panic(fmt.Errorf("%s: %w", op, err))
	}
	n := s.B * s.T
	compute.CheckLen(op, "qkv", qkv, n*s.QKVWidth(), compute.F32)
	if op == "attention" {
		compute.CheckOut(op, "out", out, n*s.Heads*s.HeadDim)
	} else {
		compute.CheckLen(op, "dout", out, n*s.Heads*s.HeadDim, compute.F32)
	}
	compute.CheckLen(op, "att", att, s.ProbsSize(), compute.F32)
}

// Attention is causal multi-head attention.
func (d *Device) Attention(out, att, qkv, scratch compute.Buf, s compute.AttentionShape) {
	checkAttention("attention", s, qkv, out, att)
	defer d.roundOut(out.Slice(0, s.B*s.T*s.Heads*s.HeadDim))
	AttentionForward(d.be, s, F32(out), F32(att), F32(qkv))
}

// AttentionBackward is its gradient.
func (d *Device) AttentionBackward(dqkv, dout, qkv, att, scratch compute.Buf, s compute.AttentionShape) {
	checkAttention("attention backward", s, qkv, dout, att)
	compute.CheckLen("attention backward", "dqkv", dqkv, s.B*s.T*s.QKVWidth(), compute.F32)
	compute.CheckLen("attention backward", "scratch", scratch, AttentionScratchSize(s, d.be.Threads()), compute.F32)
	AttentionBackward(d.be, s, F32(dqkv), F32(dout), F32(qkv), F32(att), F32(scratch))
}

// AttentionScratch is the backward pass's per-thread T x T scratch (the forward needs none).
func (d *Device) AttentionScratch(s compute.AttentionShape, backward bool) int {
	if !backward {
		return 0
	}
	return AttentionScratchSize(s, d.be.Threads())
}

func checkSeqs(op string, s compute.KVCacheShape, seqs []compute.CachedSeq) (rows, maxCount int) {
	maxCount = 1
	for _, q := range seqs {
		if q.Slot < 0 || q.Slot >= s.Slots || q.Count < 0 || q.Past < 0 || q.Past+q.Count > s.MaxLen || q.Row < 0 {
			panic(fmt.Errorf("%s: sequence %+v does not fit a cache of %d slots x %d positions", op, q, s.Slots, s.MaxLen))
		}
		rows = max(rows, q.Row+q.Count)
		maxCount = max(maxCount, q.Count)
	}
	return rows, maxCount
}

// KVAppend writes the new keys and values into the caches.
func (d *Device) KVAppend(kc, vc, qkv compute.Buf, s compute.KVCacheShape, seqs []compute.CachedSeq) {
	rows, _ := checkSeqs("kv append", s, seqs)
	w := (s.Heads + 2*s.KVHeads) * s.HeadDim
	kvw := s.KVHeads * s.HeadDim
	compute.CheckLen("kv append", "qkv", qkv, rows*w, compute.F32)
	compute.CheckLen("kv append", "kc", kc, s.CacheSize(), compute.F32)
	compute.CheckLen("kv append", "vc", vc, s.CacheSize(), compute.F32)
	q, k, v := F32(qkv), F32(kc), F32(vc)
	for _, sq := range seqs {
		for j := 0; j < sq.Count; j++ {
			row := q[(sq.Row+j)*w:]
			at := (sq.Slot*s.MaxLen + sq.Past + j) * kvw
			copy(k[at:at+kvw], row[s.Heads*s.HeadDim:])
			copy(v[at:at+kvw], row[(s.Heads+s.KVHeads)*s.HeadDim:])
		}
	}
}

// AttentionCached attends the new rows to their caches.
func (d *Device) AttentionCached(out, qkv, kc, vc, scratch compute.Buf, s compute.KVCacheShape, seqs []compute.CachedSeq) {
	rows, maxCount := checkSeqs("cached attention", s, seqs)
	compute.CheckLen("cached attention", "qkv", qkv, rows*(s.Heads+2*s.KVHeads)*s.HeadDim, compute.F32)
	compute.CheckLen("cached attention", "out", out, rows*s.Heads*s.HeadDim, compute.F32)
	compute.CheckLen("cached attention", "scratch", scratch, AttentionCachedScratchSize(s, d.be.Threads(), maxCount), compute.F32)
	compute.CheckLen("cached attention", "kc", kc, s.CacheSize(), compute.F32)
	compute.CheckLen("cached attention", "vc", vc, s.CacheSize(), compute.F32)
	AttentionCached(d.be, s, F32(out), F32(qkv), F32(kc), F32(vc), seqs, F32(scratch), maxCount)
}

// AttentionCachedScratch is the per-thread scratch of the cached attention.
func (d *Device) AttentionCachedScratch(s compute.KVCacheShape, seqs []compute.CachedSeq) int {
	_, maxCount := checkSeqs("cached attention", s, seqs)
	return AttentionCachedScratchSize(s, d.be.Threads(), maxCount)
}

// SwiGLU is the gated MLP activation.
func (d *Device) SwiGLU(h, gu compute.Buf, rows, f int) {
	compute.CheckOut("swiglu", "h", h, rows*f)
	compute.CheckLen("swiglu", "gu", gu, 2*rows*f, compute.F32)
	defer d.roundOut(h.Slice(0, rows*f))
	SwiGLUForward(d.be, F32(h), F32(gu), rows, f)
}

// SwiGLUBackward is its gradient.
func (d *Device) SwiGLUBackward(dgu, h, dh, gu compute.Buf, rows, f int) {
	compute.CheckOut("swiglu backward", "dgu", dgu, 2*rows*f)
	compute.CheckLen("swiglu backward", "h", h, rows*f, dgu.DType())
	compute.CheckLen("swiglu backward", "dh", dh, rows*f, compute.F32)
	compute.CheckLen("swiglu backward", "gu", gu, 2*rows*f, compute.F32)
	defer d.roundOut(dgu.Slice(0, 2*rows*f))
	defer d.roundOut(h.Slice(0, rows*f))
	SwiGLUBackward(d.be, F32(dgu), F32(h), F32(dh), F32(gu), rows, f)
}

// Add sets out = a + b.
func (d *Device) Add(out, a, b compute.Buf) {
	compute.CheckLen("add", "a", a, out.Len(), compute.F32)
	compute.CheckLen("add", "b", b, out.Len(), compute.F32)
	Add(d.be, F32(out), F32(a), F32(b))
}

// AddTo adds src to dst.
func (d *Device) AddTo(dst, src compute.Buf) {
	compute.CheckLen("add", "src", src, dst.Len(), compute.F32)
	AddTo(d.be, F32(dst), F32(src))
}

// HeadLoss is the fused head and cross-entropy.
func (d *Device) HeadLoss(rowLoss, x, w, scale, dx, dw, scratch compute.Buf, targets []int32, s compute.HeadShape) {
	n := s.Rows
	dt := x.DType()
	compute.CheckLen("head loss", "rowLoss", rowLoss, n, compute.F32)
	compute.CheckLen("head loss", "x", x, n*s.D, dt)
	compute.CheckLen("head loss", "w", w, s.V*s.D, dt)
	compute.CheckLen("head loss", "scratch", scratch, HeadLossScratchSize(n, s.D, s.V, 0), compute.F32)
	if len(targets) < n {
		panic(fmt.Errorf("head loss: %d targets for %d rows", len(targets), n))
	}
	tg := targets[:n]
	for i, t := range tg {
		if int(t) >= s.V {
			panic(fmt.Errorf("head loss: row %d has target %d outside the vocabulary [0, %d)", i, t, s.V))
		}
	}
	if dx.IsZero() {
		HeadLoss(d.be, F32(rowLoss), F32(x), F32(w), tg, nil, nil, nil, F32(scratch), n, s.D, s.V, 0)
		return
	}
	compute.CheckLen("head loss", "scale", scale, n, compute.F32)
	compute.CheckLen("head loss", "dx", dx, n*s.D, compute.F32)
	compute.CheckLen("head loss", "dw", dw, s.V*s.D, compute.F32)
	HeadLoss(d.be, F32(rowLoss), F32(x), F32(w), tg, F32(scale), F32(dx), F32(dw), F32(scratch), n, s.D, s.V, 0)
}

// HeadLossScratch is HeadLossScratchSize with the default chunk.
func (d *Device) HeadLossScratch(s compute.HeadShape) int {
	return HeadLossScratchSize(s.Rows, s.D, s.V, 0)
}

// GatherRows copies selected rows.
func (d *Device) GatherRows(dst, src, rows compute.Buf, dim int) {
	idx := I32(rows)
	compute.CheckLen("gather rows", "dst", dst, len(idx)*dim, compute.F32)
	out, in := F32(dst), F32(src)
	for i, r := range idx {
		if r < 0 || int(r+1)*dim > len(in) {
			panic(fmt.Errorf("gather rows: row %d of a buffer of %d rows", r, len(in)/dim))
		}
		copy(out[i*dim:(i+1)*dim], in[int(r)*dim:int(r+1)*dim])
	}
}

// ArgMax finds each row's largest value (lowest index on ties; NaN never wins).
func (d *Device) ArgMax(out, x compute.Buf, rows, n int) {
	compute.CheckLen("argmax", "out", out, rows, compute.I32)
	compute.CheckLen("argmax", "x", x, rows*n, compute.F32)
	o, v := I32(out), F32(x)
	for r := 0; r < rows; r++ {
		row := v[r*n : (r+1)*n]
		best := 0
		for j, z := range row {
			if z > row[best] || (math.IsNaN(float64(row[best])) && !math.IsNaN(float64(z))) {
				best = j
			}
		}
		o[r] = int32(best)
	}
}

// AddBias adds a bias to every row.
func (d *Device) AddBias(x, b compute.Buf, rows, cols int) {
	compute.CheckLen("add bias", "x", x, rows*cols, compute.F32)
	compute.CheckLen("add bias", "b", b, cols, compute.F32)
	BiasForward(d.be, F32(x), F32(b), rows, cols)
}

// BiasGrad adds the column sums of dout to db.
func (d *Device) BiasGrad(db, dout compute.Buf, rows, cols int) {
	compute.CheckLen("bias gradient", "dout", dout, rows*cols, compute.F32)
	compute.CheckLen("bias gradient", "db", db, cols, compute.F32)
	BiasBackward(d.be, F32(db), F32(dout), rows, cols)
}
