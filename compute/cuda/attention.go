//go:build linux

package cuda

import (
	"fmt"
	"math"
	"slices"

	"github.com/ordermerge/ordermerge/compute"
)

// attnLayout places attention's scratch: the heads of q, k and v (and of the output's
// gradient) in the products' dtype, laid out (B, heads, T, HeadDim), so each group of query
// heads sharing a KV head is one matrix for cuBLAS's strided batches.
type attnLayout struct {
	s                            compute.AttentionShape
	rep, qn, kn, pn              int64 // query heads per KV head; elements of q, of k (= v), of the scores
	esz                          int64 // bytes per element of the product inputs
	q, k, v, o, pbF              int64 // forward: byte offsets in the scratch
	do, ds, dsb, pbB, dq, dk, dv int64 // backward
	fwd, bwd                     int64 // bytes
}

func layout(s compute.AttentionShape) attnLayout {
	l := attnLayout{s: s, rep: int64(s.Heads / s.KVHeads), esz: 4}
	if s.Precision == compute.PrecisionBF16 {
		l.esz = 2
	}
	B, T, hd := int64(s.B), int64(s.T), int64(s.HeadDim)
	l.qn, l.kn, l.pn = B*int64(s.Heads)*T*hd, B*int64(s.KVHeads)*T*hd, B*int64(s.Heads)*T*T
	align := func(x int64) int64 { return (x + 255) &^ 255 }
	off := int64(0)
	take := func(bytes int64) int64 { at := off; off = align(off + bytes); return at }
	l.q, l.k, l.v = take(l.qn*l.esz), take(l.kn*l.esz), take(l.kn*l.esz)
	shared := off
	l.o = take(4 * l.qn)
	if l.esz == 2 {
		l.pbF = take(2 * l.pn)
	}
	l.fwd = off
	off = shared
	l.do = take(l.qn * l.esz)
	l.ds = take(4 * l.pn)
	if l.esz == 2 {
		l.dsb, l.pbB = take(2*l.pn), take(2*l.pn)
	}
	l.dq, l.dk, l.dv = take(4*l.qn), take(4*l.kn), take(4*l.kn)
	l.bwd = off
	return l
}

// AttentionScratch is the scratch, in float32 values, for the heads of q, k, v and the
// products around the softmax (and their gradients for the backward pass).
func (d *Device) AttentionScratch(s compute.AttentionShape, backward bool) int {
	l := layout(s)
	if backward {
		return int((max(l.fwd, l.bwd) + 3) / 4)
	}
	return int((l.fwd + 3) / 4)
}

func (d *Device) checkAttention(op string, s compute.AttentionShape, qkv, out, att, scratch compute.Buf, backward bool) {
	if err := s.Check(); err != nil {
		panic(fmt.Errorf("%s: %w", op, err))
	}
	n := s.B * s.T
	compute.CheckLen(op, "qkv", qkv, n*s.QKVWidth(), compute.F32)
	if backward {
		compute.CheckLen(op, "dout", out, n*s.Heads*s.HeadDim, compute.F32)
	} else {
		compute.CheckOut(op, "out", out, n*s.Heads*s.HeadDim)
	}
	compute.CheckLen(op, "att", att, s.ProbsSize(), compute.F32)
	compute.CheckLen(op, "scratch", scratch, d.AttentionScratch(s, backward), compute.F32)
}

// split copies the heads of q, k and v out of qkv into the scratch (caller holds the lock).
func (d *Device) split(l attnLayout, qkv, base uint64) {
	s := l.s
	kern := "to_heads_f32"
	if l.esz == 2 {
		kern = "to_heads_bf16"
	}
	W, hd := s.QKVWidth(), s.HeadDim
	for _, h := range []struct {
		dst      int64
		n        int64
		nh, col0 int
	}{{l.q, l.qn, s.Heads, 0}, {l.k, l.kn, s.KVHeads, s.Heads * hd}, {l.v, l.kn, s.KVHeads, (s.Heads + s.KVHeads) * hd}} {
		d.elementwise(kern, h.n, base+uint64(h.dst), qkv, i32(s.B), i32(s.T), i32(h.nh), i32(hd), i32(W), i32(h.col0))
	}
}

func (l attnLayout) dtype() compute.DType {
	if l.esz == 2 {
		return compute.BF16
	}
	return compute.F32
}

// batched queues one strided-batched product over the B*KVHeads groups.
func (d *Device) batched(l attnLayout, c, a, b uint64, dt compute.DType, g compute.GEMM, sa, sb, sc int64) {
	d.gemm(c, a, b, dt, g, l.s.B*l.s.KVHeads, sa, sb, sc)
}

// Attention is causal attention through batched products: S = Q K^T * scale per group of
// query heads sharing a KV head, the causal softmax (kept in att), then O = P V.
func (d *Device) Attention(out, att, qkv, scratch compute.Buf, s compute.AttentionShape) {
	d.checkAttention("attention", s, qkv, out, att, scratch, false)
	l := layout(s)
	T, hd, rep := int64(s.T), int64(s.HeadDim), l.rep
	scale := float32(1 / math.Sqrt(float64(s.HeadDim)))
	unlock := d.enter()
	defer unlock()
	base, P := d.p(scratch), d.p(att)
	d.split(l, d.p(qkv), base)
	dt := l.dtype()
	// S_g (rep*T x T) = scale * Q_g (rep*T x hd) K_g^T
	d.batched(l, P, base+uint64(l.q), base+uint64(l.k), dt,
		compute.GEMM{TransB: true, M: int(rep * T), N: int(T), K: int(hd), Alpha: scale}, rep*T*hd, T*hd, rep*T*T)
	pbf := uint64(0)
	if l.esz == 2 {
		pbf = base + uint64(l.pbF)
	}
	d.launch("softmax_causal", d1(int(l.pn/T)), d1(rowThreads(s.T/4)), 0, P, pbf, i32(s.T), i32(s.Window))
	// O_g (rep*T x hd) = P_g V_g
	pIn := P
	if l.esz == 2 {
		pIn = pbf
	}
	d.batched(l, base+uint64(l.o), pIn, base+uint64(l.v), dt,
		compute.GEMM{M: int(rep * T), N: int(hd), K: int(T), Alpha: 1}, rep*T*T, T*hd, rep*T*hd)
	d.elementwise(outKernel("from_heads", out), l.qn, d.p(out), base+uint64(l.o), i32(s.B), i32(s.T), i32(s.Heads), i32(s.HeadDim), i32(s.Heads*s.HeadDim), 0)
}

// AttentionBackward is the gradient of Attention through the same batched products.
func (d *Device) AttentionBackward(dqkv, dout, qkv, att, scratch compute.Buf, s compute.AttentionShape) {
	d.checkAttention("attention backward", s, qkv, dout, att, scratch, true)
	compute.CheckLen("attention backward", "dqkv", dqkv, s.B*s.T*s.QKVWidth(), compute.F32)
	l := layout(s)
	T, hd, rep := int64(s.T), int64(s.HeadDim), l.rep
	scale := float32(1 / math.Sqrt(float64(s.HeadDim)))
	unlock := d.enter()
	defer unlock()
	base, P := d.p(scratch), d.p(att)
	at := func(off int64) uint64 { return base + uint64(off) }
	d.split(l, d.p(qkv), base)
	dt := l.dtype()
	kern := "to_heads_f32"
	if l.esz == 2 {
		kern = "to_heads_bf16"
	}
	d.elementwise(kern, l.qn, at(l.do), d.p(dout), i32(s.B), i32(s.T), i32(s.Heads), i32(s.HeadDim), i32(s.Heads*s.HeadDim), 0)
	// dP_g (rep*T x T) = dO_g V_g^T, then the softmax backward in place; in bf16 it also
	// rounds P for the dV product below in the same pass over P.
	d.batched(l, at(l.ds), at(l.do), at(l.v), dt, compute.GEMM{TransB: true, M: int(rep * T), N: int(T), K: int(hd), Alpha: 1}, rep*T*hd, T*hd, rep*T*T)
	pIn, dsIn, dsb, pb := P, at(l.ds), uint64(0), uint64(0)
	if l.esz == 2 {
		dsb, pb = at(l.dsb), at(l.pbB)
		pIn, dsIn = pb, dsb
	}
	d.launch("softmax_causal_backward", d1(int(l.pn/T)), d1(rowThreads(s.T/4)), 0, at(l.ds), dsb, pb, P, i32(s.T))
	// dV_g (T x hd) = P_g^T dO_g
	d.batched(l, at(l.dv), pIn, at(l.do), dt, compute.GEMM{TransA: true, M: int(T), N: int(hd), K: int(rep * T), Alpha: 1}, rep*T*T, rep*T*hd, T*hd)
	// dQ_g = scale * dS_g K_g;  dK_g = scale * dS_g^T Q_g
	d.batched(l, at(l.dq), dsIn, at(l.k), dt, compute.GEMM{M: int(rep * T), N: int(hd), K: int(T), Alpha: scale}, rep*T*T, T*hd, rep*T*hd)
	d.batched(l, at(l.dk), dsIn, at(l.q), dt, compute.GEMM{TransA: true, M: int(T), N: int(hd), K: int(rep * T), Alpha: scale}, rep*T*T, rep*T*hd, T*hd)
	W := s.QKVWidth()
	for _, h := range []struct {
		src      int64
		n        int64
		nh, col0 int
	}{{l.dq, l.qn, s.Heads, 0}, {l.dk, l.kn, s.KVHeads, s.Heads * s.HeadDim}, {l.dv, l.kn, s.KVHeads, (s.Heads + s.KVHeads) * s.HeadDim}} {
		d.elementwise("from_heads", h.n, d.p(dqkv), at(h.src), i32(s.B), i32(s.T), i32(h.nh), i32(s.HeadDim), i32(W), i32(h.col0))
	}
}

// seqCache keeps the last cache-attention row metadata uploaded (every layer of a decoding
// step asks for the same), in a device buffer of its own.
type seqCache struct {
	host []int32
	mem  devMem
}

// rowMeta uploads (slot, position) for every new row of seqs, unless the last upload was the
// same (caller holds the lock).
func (d *Device) rowMeta(s compute.KVCacheShape, seqs []compute.CachedSeq) (uint64, int) {
	var meta []int32
	rows := 0
	for _, q := range seqs {
		if q.Slot < 0 || q.Slot >= s.Slots || q.Count < 0 || q.Past < 0 || q.Past+q.Count > s.MaxLen || q.Row < 0 {
			panic(fmt.Errorf("cached attention: sequence %+v does not fit a cache of %d slots x %d positions", q, s.Slots, s.MaxLen))
		}
		rows = max(rows, q.Row+q.Count)
	}
	meta = make([]int32, 2*rows)
	for i := range meta {
		meta[i] = -1
	}
	for _, q := range seqs {
		for j := 0; j < q.Count; j++ {
			meta[2*(q.Row+j)], meta[2*(q.Row+j)+1] = int32(q.Slot), int32(q.Past+j)
		}
	}
	for r := 0; r < rows; r++ {
		if meta[2*r] < 0 {
			panic(fmt.Errorf("cached attention: row %d belongs to no sequence", r))
		}
	}
	if slices.Equal(meta, d.seqs.host) && d.seqs.mem.ptr != 0 {
		return d.seqs.mem.ptr, rows
	}
	if need := int64(4 * len(meta)); need > d.seqs.mem.bytes {
		d.rawFree(d.seqs.mem)
		m, err := d.rawAlloc(max(need, 4096))
		if err != nil {
			panic(fmt.Errorf("cuda: cache attention metadata: %w", err))
		}
		d.seqs.mem = m
	}
	if len(meta) > 0 && !d.check("copy to the GPU", status(call(d.a.cuMemcpyHtoD, uintptr(d.seqs.mem.ptr), uintptr(unsafePointer(int32Bytes(meta))), uintptr(4*len(meta))))) {
		return d.seqs.mem.ptr, rows
	}
	d.seqs.host = meta
	return d.seqs.mem.ptr, rows
}

// KVAppend writes the new rows' keys and values into the caches.
func (d *Device) KVAppend(kc, vc, qkv compute.Buf, s compute.KVCacheShape, seqs []compute.CachedSeq) {
	compute.CheckLen("kv append", "kc", kc, s.CacheSize(), compute.F32)
	compute.CheckLen("kv append", "vc", vc, s.CacheSize(), compute.F32)
	unlock := d.enter()
	defer unlock()
	meta, rows := d.rowMeta(s, seqs)
	W := (s.Heads + 2*s.KVHeads) * s.HeadDim
	compute.CheckLen("kv append", "qkv", qkv, rows*W, compute.F32)
	kvw := s.KVHeads * s.HeadDim
	d.elementwise("kv_append", int64(rows)*int64(kvw), d.p(kc), d.p(vc), d.p(qkv), meta, uint64(rows), i32(s.MaxLen), i32(W), i32(s.Heads*s.HeadDim), i32(kvw))
}

// AttentionCached attends each new row to its sequence's cache: one block per (row, head).
func (d *Device) AttentionCached(out, qkv, kc, vc, scratch compute.Buf, s compute.KVCacheShape, seqs []compute.CachedSeq) {
	compute.CheckLen("cached attention", "kc", kc, s.CacheSize(), compute.F32)
	compute.CheckLen("cached attention", "vc", vc, s.CacheSize(), compute.F32)
	shared := 4 * (s.HeadDim + s.MaxLen)
	if shared > d.maxShared {
		panic(fmt.Errorf("cached attention: %d positions need %d bytes of shared memory; this GPU has %d", s.MaxLen, shared, d.maxShared))
	}
	unlock := d.enter()
	defer unlock()
	meta, rows := d.rowMeta(s, seqs)
	compute.CheckLen("cached attention", "qkv", qkv, rows*(s.Heads+2*s.KVHeads)*s.HeadDim, compute.F32)
	compute.CheckLen("cached attention", "out", out, rows*s.Heads*s.HeadDim, compute.F32)
	if shared > 48<<10 {
		d.check("allow shared memory", status(call(d.a.cuFuncSetAttribute, d.fns["attention_cached"], 8, uintptr(shared))))
	}
	scale := float32(1 / math.Sqrt(float64(s.HeadDim)))
	d.launch("attention_cached", d2(rows, s.Heads), d1(128), shared,
		d.p(out), d.p(qkv), d.p(kc), d.p(vc), meta, i32(s.Heads), i32(s.KVHeads), i32(s.HeadDim), i32(s.MaxLen), f32bits(scale), i32(s.Window))
}

// AttentionCachedScratch is zero: the scores live in shared memory.
func (d *Device) AttentionCachedScratch(s compute.KVCacheShape, seqs []compute.CachedSeq) int {
	return 0
}
