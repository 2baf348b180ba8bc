package llama

import (
	"fmt"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/internal/parallel"
)

// acts are the activations kept for the backward pass and the scratch buffers, in device
// memory, sized for the largest batch seen (grown, never shrunk) and reused by every call.
type acts struct {
	n, att, t int // capacity: rows, probabilities per layer, positions
	grads     bool

	ids, pos         compute.Buf   // I32, n each
	hostIDs, hostTgt []int32       // the batch's, for the ops that group rows on the host
	posB, posT       int           // the batch shape pos holds positions for
	x                []compute.Buf // L+1 residual streams (x[0]: embeddings)
	xm               []compute.Buf // after attention, per layer
	r1, r2           []compute.Buf // rstd of input_layernorm, post_attention_layernorm
	qkv              []compute.Buf // after RoPE
	qkvPre           []compute.Buf // before the q/k norms (Qwen3 only)
	rq, rk           []compute.Buf // rstd of the q and k norms (Qwen3 only)
	p                []compute.Buf // attention probabilities
	y                []compute.Buf // attention output, before o_proj (BF16 at bf16 precision: only products read it)
	gu               []compute.Buf // gate and up projections
	// Product inputs, BF16 at bf16 precision (the ops that make them round them): the final
	// norm's output, the normalised input of a projection and SwiGLU's output (both recomputed
	// in backward).
	rF, lnF compute.Buf
	ln      compute.Buf
	h       compute.Buf

	dres, dtmp, dqkv, dgu, dh, dy compute.Buf // dgu is BF16 at bf16 precision (only products read it)
	attScratch, headScratch       compute.Buf
	rowLoss, scale                compute.Buf
	// At bf16 precision only: scratch for product inputs rounded to bf16 (pa), and the
	// residual stream's gradient rounded by the norms' backward passes (dresB).
	pa, dresB compute.Buf

	hostLoss, hostScale []float32
}

// sizes lists the buffers acts allocates for one shape: elements per dtype.
type sizes struct{ f32, bf16, i32 int64 }

func (s sizes) bytes() int64 { return 4*s.f32 + 2*s.bf16 + 4*s.i32 }

func actSizes(dev compute.Device, d dims, ar arch, prec compute.Precision, b, t int, grads bool) sizes {
	n, att := int64(b*t), int64(b*d.H*t*t)
	L := int64(d.L)
	var s sizes
	s.i32 = 2 * n
	bf16 := prec == compute.PrecisionBF16
	y := L * n * int64(d.Q) // the attention outputs, kept for o_proj's weight gradient
	if bf16 {
		s.bf16 += y
		y = 0
	}
	prodIn := 2*n*int64(d.D) + n*int64(d.F) // lnF, ln, h
	if bf16 {
		s.bf16 += prodIn
		prodIn = 0
	}
	s.f32 = (L+1)*n*int64(d.D) + L*(n*int64(d.D)+2*n+n*int64(d.W)+att+n*int64(2*d.F)) + y +
		2*n + prodIn + 2*n
	if ar.qkNorm {
		s.f32 += L * (n*int64(d.W) + n*int64(d.H+d.KV))
	}
	shape := compute.AttentionShape{B: b, T: t, Heads: d.H, KVHeads: d.KV, HeadDim: d.HD, Precision: prec, Window: ar.window}
	s.f32 += int64(max(dev.AttentionScratch(shape, false), dev.AttentionScratch(shape, grads)))
	s.f32 += int64(dev.HeadLossScratch(compute.HeadShape{Rows: b * t, D: d.D, V: d.V}))
	if grads {
		s.f32 += 2*n*int64(d.D) + n*int64(d.W) + n*int64(d.F) + n*int64(d.Q)
		if bf16 {
			s.bf16 += n*int64(2*d.F) + n*int64(d.D) // dgu, dresB
		} else {
			s.f32 += n * int64(2*d.F)
		}
	}
	if bf16 {
		s.bf16 += n * int64(productWidth(d))
	}
	return s
}

// productWidth is the widest row written into the bf16 product-input scratch pa: the qkv
// gradient when training; when decoding, the normalised inputs, SwiGLU's output and
// attention's output (at most W wide).
func productWidth(d dims) int { return max(d.F, d.W, d.D) }

// ensure sizes the buffers for a b x t batch (with backward buffers when grads is set).
func (m *Model) ensure(b, t int, grads bool) error {
	d, a := dimsOf(m.cfg), &m.acts
	n, att := b*t, b*d.H*t*t
	if n <= a.n && att <= a.att && t <= a.t && (a.grads || !grads) {
		return nil
	}
	n, att, t = max(n, a.n), max(att, a.att), max(t, a.t)
	grads = grads || a.grads
	var err error
	mk := func(dt compute.DType, k int) compute.Buf {
		if err != nil {
			return compute.Buf{}
		}
		var buf compute.Buf
		buf, err = m.dev.Alloc(dt, k)
		return buf
	}
	f32 := func(k int) compute.Buf { return mk(compute.F32, k) }
	perLayer := func(count, k int) []compute.Buf {
		out := make([]compute.Buf, count)
		for i := range out {
			out[i] = f32(k)
		}
		return out
	}
	bf16 := m.prec == compute.PrecisionBF16
	prodDT := compute.F32 // what only products read
	if bf16 {
		prodDT = compute.BF16
	}
	ys := make([]compute.Buf, d.L)
	for i := range ys {
		ys[i] = mk(prodDT, n*d.Q)
	}
	*a = acts{n: n, att: att, t: t, grads: grads,
		ids: mk(compute.I32, n), pos: mk(compute.I32, n),
		x: perLayer(d.L+1, n*d.D), xm: perLayer(d.L, n*d.D),
		r1: perLayer(d.L, n), r2: perLayer(d.L, n),
		qkv: perLayer(d.L, n*d.W), p: perLayer(d.L, att), y: ys,
		gu: perLayer(d.L, n*2*d.F), rF: f32(n), lnF: mk(prodDT, n*d.D), ln: mk(prodDT, n*d.D), h: mk(prodDT, n*d.F),
		rowLoss: f32(n), scale: f32(n),
		hostLoss: make([]float32, n), hostScale: make([]float32, n),
	}
	if m.arch.qkNorm {
		a.qkvPre, a.rq, a.rk = perLayer(d.L, n*d.W), perLayer(d.L, n*d.H), perLayer(d.L, n*d.KV)
	}
	if grads {
		a.dres, a.dtmp, a.dqkv = f32(n*d.D), f32(n*d.D), f32(n*d.W)
		a.dgu, a.dh, a.dy = mk(prodDT, n*2*d.F), f32(n*d.F), f32(n*d.Q)
		if bf16 {
			a.dresB = mk(compute.BF16, n*d.D)
		}
	}
	if bf16 {
		w := n * productWidth(d)
		a.pa = mk(compute.BF16, w)
	}
	if err != nil {
		*a = acts{}
		return fmt.Errorf("llama: activations for a batch of %d x %d: %w", b, t, err)
	}
	return nil
}

// checkBatch validates a batch against the model.
func (m *Model) checkBatch(b *compute.Batch) error {
	if b == nil || b.B <= 0 || b.T <= 0 {
		return fmt.Errorf("llama: empty batch")
	}
	if len(b.Inputs) != b.B*b.T || (b.Targets != nil && len(b.Targets) != b.B*b.T) {
		return fmt.Errorf("llama: batch of %d x %d needs %d inputs and targets, has %d and %d", b.B, b.T, b.B*b.T, len(b.Inputs), len(b.Targets))
	}
	if b.T > m.cfg.MaxPositionEmbeddings {
		return fmt.Errorf("llama: sequence length %d exceeds max_position_embeddings %d", b.T, m.cfg.MaxPositionEmbeddings)
	}
	v := int32(m.cfg.VocabSize)
	for i, id := range b.Inputs {
		if id < 0 || id >= v {
			return fmt.Errorf("llama: sample %d position %d: input token %d outside the vocabulary [0, %d)", i/b.T, i%b.T, id, v)
		}
	}
	for i, id := range b.Targets {
		if id >= v {
			return fmt.Errorf("llama: sample %d position %d: target token %d outside the vocabulary [0, %d)", i/b.T, i%b.T, id, v)
		}
	}
	return nil
}

// upload copies a batch's token ids (and targets, when it has them) to the device, and the
// positions of its shape when they changed.
func (m *Model) upload(b *compute.Batch) error {
	a, n := &m.acts, b.B*b.T
	if err := m.dev.WriteI32(a.ids.Slice(0, n), b.Inputs); err != nil {
		return err
	}
	a.hostIDs, a.hostTgt = b.Inputs, b.Targets
	if a.posB != b.B || a.posT != b.T {
		pos := make([]int32, n)
		for i := range pos {
			pos[i] = int32(i % b.T)
		}
		if err := m.dev.WriteI32(a.pos.Slice(0, n), pos); err != nil {
			return err
		}
		a.posB, a.posT = b.B, b.T
	}
	return nil
}

// refreshProd rounds the weights for the products at bf16 precision (a no-op at f32).
func (m *Model) refreshProd() {
	if m.prec == compute.PrecisionBF16 {
		m.dev.Cast(m.prod, m.data)
	}
}

// pin returns x as a product input: x itself at f32 precision, else x rounded to bfloat16
// into the scratch into.
func (m *Model) pin(x, into compute.Buf) compute.Buf {
	if m.prec != compute.PrecisionBF16 {
		return x
	}
	dst := into.Slice(0, x.Len())
	m.dev.Cast(dst, x)
	return dst
}

// prodOut is where an op writes a product input it makes: f32 itself at f32 precision, else
// the bf16 scratch into (the op rounds its results there, so nothing casts them).
func (m *Model) prodOut(f32, into compute.Buf) compute.Buf {
	if m.prec != compute.PrecisionBF16 {
		return f32
	}
	return into.Slice(0, f32.Len())
}

// finalNormed is the final norm's output for n rows, the LM head's product input.
func (m *Model) finalNormed(n int) compute.Buf {
	return m.acts.lnF.Slice(0, n*dimsOf(m.cfg).D)
}

// qkNorms are the descriptors of Qwen3's per-head norms of the q and k heads of n qkv rows.
func (m *Model) qkNorms(n int) (q, k compute.Norm) {
	d := dimsOf(m.cfg)
	eps := float32(m.cfg.RMSNormEps)
	q = compute.Norm{Rows: n * d.H, D: d.HD, Eps: eps, LD: d.W, Col: 0, Group: d.H}
	k = compute.Norm{Rows: n * d.KV, D: d.HD, Eps: eps, LD: d.W, Col: d.H * d.HD, Group: d.KV}
	return q, k
}

// qkvProjection computes the stacked q, k, v rows of n normalised inputs (a product input),
// with the family's biases and q/k norms; l is the layer (its kept activations, when
// training) or -1 (incremental decoding: nothing kept).
func (m *Model) qkvProjection(qkv, in compute.Buf, lv layerView, n, l int) {
	d, dev := dimsOf(m.cfg), m.dev
	m.linear(qkv, in, lv.qkv.p, n, d.D, d.W, 0)
	if m.arch.qkvBias {
		dev.AddBias(qkv, lv.qkvBias.w, n, d.W)
	}
	if !m.arch.qkNorm {
		return
	}
	qn, kn := m.qkNorms(n)
	var pre, rq, rk compute.Buf
	if l >= 0 {
		pre, rq, rk = m.acts.qkvPre[l].Slice(0, n*d.W), m.acts.rq[l].Slice(0, n*d.H), m.acts.rk[l].Slice(0, n*d.KV)
	} else {
		pre, rq, rk = m.inf.pre.Slice(0, n*d.W), m.inf.rq.Slice(0, n*d.H), m.inf.rk.Slice(0, n*d.KV)
	}
	dev.Copy(pre, qkv)
	dev.RMSNorm(qkv, rq, pre, lv.qNorm.w, qn)
	dev.RMSNorm(qkv, rk, pre, lv.kNorm.w, kn)
}

// qkvProjectionBackward turns dqkv (the gradient with respect to the projection's output
// after the q/k norms) into the gradient before them, in place, and adds the norms' and the
// biases' gradients.
func (m *Model) qkvProjectionBackward(dqkv compute.Buf, lv layerView, n, l int) {
	d, dev := dimsOf(m.cfg), m.dev
	if m.arch.qkNorm {
		qn, kn := m.qkNorms(n)
		qn.Replace, kn.Replace = true, true
		pre := m.acts.qkvPre[l].Slice(0, n*d.W)
		dev.RMSNormBackward(dqkv, compute.Buf{}, lv.qNorm.g, dqkv, pre, lv.qNorm.w, m.acts.rq[l].Slice(0, n*d.H), qn)
		dev.RMSNormBackward(dqkv, compute.Buf{}, lv.kNorm.g, dqkv, pre, lv.kNorm.w, m.acts.rk[l].Slice(0, n*d.KV), kn)
	}
	if m.arch.qkvBias {
		dev.BiasGrad(lv.qkvBias.g, dqkv, n, d.W)
	}
}

// linear computes out = in @ W^T (+ beta*out) for n rows: in is n x inF (already a product
// input), W is outF x inF (the Hugging Face / PyTorch layout of a Linear weight).
func (m *Model) linear(out, in, w compute.Buf, n, inF, outF int, beta float32) {
	m.dev.MatMul(out, in, w, compute.GEMM{TransB: true, M: n, N: outF, K: inF, Alpha: 1, Beta: beta, TF32: m.tf32()})
}

// linearDX computes din = dout @ W (+ beta*din) for n rows (dout and W product inputs).
func (m *Model) linearDX(din, dout, w compute.Buf, n, inF, outF int, beta float32) {
	m.dev.MatMul(din, dout, w, compute.GEMM{M: n, N: inF, K: outF, Alpha: 1, Beta: beta, TF32: m.tf32()})
}

// linearDW adds dout^T @ in to dw (outF x inF) (dout and in product inputs).
func (m *Model) linearDW(dw, dout, in compute.Buf, n, inF, outF int) {
	m.dev.MatMul(dw, dout, in, compute.GEMM{TransA: true, M: outF, N: inF, K: n, Alpha: 1, Beta: 1, TF32: m.tf32()})
}

// shapes are the descriptors of the attention, the norms and RoPE for a B x T batch.
func (m *Model) shapes(B, T int) (compute.AttentionShape, compute.Norm, compute.RoPEShape) {
	d := dimsOf(m.cfg)
	return compute.AttentionShape{B: B, T: T, Heads: d.H, KVHeads: d.KV, HeadDim: d.HD, Precision: m.prec, Window: m.arch.window},
		compute.Norm{Rows: B * T, D: d.D, Eps: float32(m.cfg.RMSNormEps)},
		compute.RoPEShape{Rows: B * T, LD: d.W, Heads: d.H + d.KV, HeadDim: d.HD}
}

// forward runs the decoder over the uploaded B x T batch up to the final RMSNorm
// (finalNormed). At bf16 precision the norms, attention and SwiGLU write the products' inputs
// as bf16 themselves.
func (m *Model) forward(B, T int) {
	d, a, dev := dimsOf(m.cfg), &m.acts, m.dev
	n := B * T
	shape, norm, rope := m.shapes(B, T)
	ln, h := a.ln.Slice(0, n*d.D), a.h.Slice(0, n*d.F)
	dev.Embedding(a.x[0].Slice(0, n*d.D), m.embed.w, a.ids.Slice(0, n), d.D)
	for l, lv := range m.layers {
		x, xm, xn := a.x[l].Slice(0, n*d.D), a.xm[l].Slice(0, n*d.D), a.x[l+1].Slice(0, n*d.D)
		qkv, y, gu := a.qkv[l].Slice(0, n*d.W), a.y[l].Slice(0, n*d.Q), a.gu[l].Slice(0, n*2*d.F)
		dev.RMSNorm(ln, a.r1[l], x, lv.inNorm.w, norm)
		m.qkvProjection(qkv, ln, lv, n, l)
		dev.RoPE(qkv, qkv, a.pos, m.rope, rope, false)
		dev.Attention(y, a.p[l], qkv, a.attScratch, shape)
		dev.Copy(xm, x)
		m.linear(xm, y, lv.o.p, n, d.Q, d.D, 1)
		if m.arch.oBias {
			dev.AddBias(xm, lv.oBias.w, n, d.D)
		}
		dev.RMSNorm(ln, a.r2[l], xm, lv.postNorm.w, norm)
		m.linear(gu, ln, lv.gateUp.p, n, d.D, 2*d.F, 0)
		dev.SwiGLU(h, gu, n, d.F)
		dev.Copy(xn, xm)
		m.linear(xn, h, lv.down.p, n, d.F, d.D, 1)
	}
	dev.RMSNorm(m.finalNormed(n), a.rF, a.x[d.L].Slice(0, n*d.D), m.norm.w, norm)
}

// backward adds the parameter gradients given d loss / d lnF in acts.dtmp. At bf16 precision
// the ops that make the products' inputs write them as bf16 themselves: the norms' backward
// passes a bf16 copy of the residual stream's gradient (dresB), SwiGLU's backward dgu and h,
// the recomputed norms their outputs, and RoPE's inverse the qkv gradient (Llama's plain
// projection; with q/k norms or biases, which read the f32 gradient after it, it is cast).
func (m *Model) backward(B, T int) {
	d, a, dev := dimsOf(m.cfg), &m.acts, m.dev
	n := B * T
	shape, norm, rope := m.shapes(B, T)
	bf16 := m.prec == compute.PrecisionBF16
	dres, dtmp := a.dres.Slice(0, n*d.D), a.dtmp.Slice(0, n*d.D)
	ln, h, dh := a.ln.Slice(0, n*d.D), a.h.Slice(0, n*d.F), a.dh.Slice(0, n*d.F)
	dgu, dqkv := a.dgu.Slice(0, n*2*d.F), a.dqkv.Slice(0, n*d.W)
	pres, dresB := dres, compute.Buf{} // the residual gradient as a product input, its bf16 copy
	if bf16 {
		dresB = a.dresB.Slice(0, n*d.D)
		pres = dresB
	}
	dev.Zero(dres)
	dev.RMSNormBackward(dres, dresB, m.norm.g, dtmp, a.x[d.L].Slice(0, n*d.D), m.norm.w, a.rF, norm)
	for l := d.L - 1; l >= 0; l-- {
		lv := m.layers[l]
		x, xm := a.x[l].Slice(0, n*d.D), a.xm[l].Slice(0, n*d.D)
		// MLP: x[l+1] = xm + down(swiglu(gate_up(norm(xm))))
		m.linearDX(dh, pres, lv.down.p, n, d.F, d.D, 0)
		dev.SwiGLUBackward(dgu, h, dh, a.gu[l].Slice(0, n*2*d.F), n, d.F)
		m.linearDW(lv.down.g, pres, h, n, d.F, d.D)
		dev.RMSNormApply(ln, xm, lv.postNorm.w, a.r2[l], norm)
		m.linearDX(dtmp, dgu, lv.gateUp.p, n, d.D, 2*d.F, 0)
		m.linearDW(lv.gateUp.g, dgu, ln, n, d.D, 2*d.F)
		dev.RMSNormBackward(dres, dresB, lv.postNorm.g, dtmp, xm, lv.postNorm.w, a.r2[l], norm)
		// Attention: xm = x + o(attention(rope(qkv(norm(x)))))
		dy := a.dy.Slice(0, n*d.Q)
		if m.arch.oBias {
			dev.BiasGrad(lv.oBias.g, dres, n, d.D)
		}
		m.linearDX(dy, pres, lv.o.p, n, d.Q, d.D, 0)
		m.linearDW(lv.o.g, pres, a.y[l].Slice(0, n*d.Q), n, d.Q, d.D)
		dev.AttentionBackward(dqkv, dy, a.qkv[l].Slice(0, n*d.W), a.p[l], a.attScratch, shape)
		var pqkv compute.Buf
		if bf16 && !m.arch.qkNorm && !m.arch.qkvBias {
			pqkv = a.pa.Slice(0, n*d.W)
			dev.RoPE(pqkv, dqkv, a.pos, m.rope, rope, true)
		} else {
			dev.RoPE(dqkv, dqkv, a.pos, m.rope, rope, true)
			m.qkvProjectionBackward(dqkv, lv, n, l)
			pqkv = m.pin(dqkv, a.pa)
		}
		dev.RMSNormApply(ln, x, lv.inNorm.w, a.r1[l], norm)
		m.linearDX(dtmp, pqkv, lv.qkv.p, n, d.D, d.W, 0)
		m.linearDW(lv.qkv.g, pqkv, ln, n, d.D, d.W)
		below := dresB // the layer below reads the bf16 copy; the embedding's gradient does not
		if l == 0 {
			below = compute.Buf{}
		}
		dev.RMSNormBackward(dres, below, lv.inNorm.g, dtmp, x, lv.inNorm.w, a.r1[l], norm)
	}
	dev.EmbeddingBackward(m.embed.g, dres, a.hostIDs[:n], d.D)
}

// headLoss runs the LM head and the loss over the forward pass's rows; with grads it also leaves
// d loss / d lnF in acts.dtmp and adds the head's weight gradient.
func (m *Model) headLoss(n int, grads bool) {
	d, a := dimsOf(m.cfg), &m.acts
	s := compute.HeadShape{Rows: n, D: d.D, V: d.V}
	x := m.finalNormed(n)
	var dx, dw, scale compute.Buf
	if grads {
		dx, dw, scale = a.dtmp.Slice(0, n*d.D), m.head.g, a.scale.Slice(0, n)
	}
	m.dev.HeadLoss(a.rowLoss.Slice(0, n), x, m.head.p, scale, dx, dw, a.headScratch, a.hostTgt[:n], s)
}

// sampleLosses reads the per-row losses back and turns them into each sample's mean over its
// non-negative targets (0 for a sample without any), summing in float64 in position order.
func (m *Model) sampleLosses(b *compute.Batch) ([]float32, error) {
	n := b.B * b.T
	rowLoss := m.acts.hostLoss[:n]
	if err := m.dev.ReadF32(rowLoss, m.acts.rowLoss.Slice(0, n)); err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	out := make([]float32, b.B)
	for s := 0; s < b.B; s++ {
		cnt := 0
		var sum float64
		for t := 0; t < b.T; t++ {
			i := s*b.T + t
			if b.Targets[i] >= 0 {
				cnt++
				sum += float64(rowLoss[i])
			}
		}
		if cnt > 0 {
			out[s] = float32(sum / float64(cnt))
		}
	}
	return out, nil
}

// prepare checks a batch, sizes the buffers and uploads the batch.
func (m *Model) prepare(b *compute.Batch, grads bool) error {
	if err := m.checkBatch(b); err != nil {
		return err
	}
	if err := m.ensure(b.B, b.T, grads); err != nil {
		return err
	}
	if err := m.upload(b); err != nil {
		return fmt.Errorf("llama: %w", err)
	}
	if err := m.ensureScratch(b.B, b.T, grads); err != nil {
		return err
	}
	m.refreshProd()
	return nil
}

// ensureScratch grows the attention and head scratch to what the device needs for a b x t
// batch.
func (m *Model) ensureScratch(b, t int, grads bool) error {
	d, a := dimsOf(m.cfg), &m.acts
	shape, _, _ := m.shapes(b, t)
	grow := func(buf *compute.Buf, need int) error {
		if need <= buf.Len() {
			return nil
		}
		nb, err := m.dev.Alloc(compute.F32, need)
		if err != nil {
			return fmt.Errorf("llama: scratch for a batch of %d x %d: %w", b, t, err)
		}
		*buf = nb
		return nil
	}
	if err := grow(&a.attScratch, max(1, m.dev.AttentionScratch(shape, false), m.dev.AttentionScratch(shape, grads))); err != nil {
		return err
	}
	return grow(&a.headScratch, max(1, m.dev.HeadLossScratch(compute.HeadShape{Rows: b * t, D: d.D, V: d.V})))
}

// ForwardBackward computes each sample's mean loss over its non-negative targets and adds the
// gradient of sum_b weights[b]*loss[b] to the parameters' Grad (compute.Model). A sample
// without any target has loss 0 and contributes no gradient.
func (m *Model) ForwardBackward(b *compute.Batch, weights []float32) (losses []float32, err error) {
	defer parallel.Recover(&err, "llama: forward/backward")
	if b != nil && b.Targets == nil {
		return nil, fmt.Errorf("llama: batch has no targets")
	}
	if b != nil && len(weights) != b.B {
		return nil, fmt.Errorf("llama: %d loss weights for a batch of %d samples", len(weights), b.B)
	}
	if err := m.prepare(b, true); err != nil {
		return nil, err
	}
	m.rowScale(b, weights)
	if err := m.dev.WriteF32(m.acts.scale.Slice(0, b.B*b.T), m.acts.hostScale[:b.B*b.T]); err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	m.forward(b.B, b.T)
	m.headLoss(b.B*b.T, true)
	m.backward(b.B, b.T)
	// The losses are read after the backward pass is queued, so a GPU is never idle waiting.
	return m.sampleLosses(b)
}

// rowScale sets hostScale[i] = weights[sample]/targets-in-sample for every row.
func (m *Model) rowScale(b *compute.Batch, weights []float32) {
	scale := m.acts.hostScale
	for s := 0; s < b.B; s++ {
		cnt := 0
		for _, t := range b.Targets[s*b.T : (s+1)*b.T] {
			if t >= 0 {
				cnt++
			}
		}
		w := float32(0)
		if cnt > 0 {
			w = weights[s] / float32(cnt)
		}
		for t := 0; t < b.T; t++ {
			scale[s*b.T+t] = w
		}
	}
}

// Loss computes each sample's mean loss over its non-negative targets, without gradients.
func (m *Model) Loss(b *compute.Batch) (losses []float32, err error) {
	defer parallel.Recover(&err, "llama: loss")
	if b != nil && b.Targets == nil {
		return nil, fmt.Errorf("llama: batch has no targets")
	}
	if err := m.prepare(b, false); err != nil {
		return nil, err
	}
	m.forward(b.B, b.T)
	m.headLoss(b.B*b.T, false)
	return m.sampleLosses(b)
}

// Logits returns the logits at every position of the batch's inputs (targets are ignored):
// B*T rows of VocabSize values, row-major.
func (m *Model) Logits(b *compute.Batch) (out []float32, err error) {
	defer parallel.Recover(&err, "llama: logits")
	if b != nil {
		b = &compute.Batch{B: b.B, T: b.T, Inputs: b.Inputs}
	}
	if err := m.prepare(b, false); err != nil {
		return nil, err
	}
	d := dimsOf(m.cfg)
	n := b.B * b.T
	m.forward(b.B, b.T)
	logits, err := m.dev.Alloc(compute.F32, n*d.V)
	if err != nil {
		return nil, fmt.Errorf("llama: logits: %w", err)
	}
	m.linear(logits, m.finalNormed(n), m.head.p, n, d.D, d.V, 0)
	return compute.Read(logits)
}

// tf32 reports whether products may use TF32 tensor cores.
func (m *Model) tf32() bool { return m.prec == compute.PrecisionTF32 }
