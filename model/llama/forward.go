package llama

import (
	"fmt"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
)

// acts are the activations kept for the backward pass and the scratch buffers, sized for the
// largest batch seen (grown, never shrunk) and reused by every call.
type acts struct {
	n, att, t int // capacity: rows, probabilities per layer, positions (backward scratch)
	grads     bool

	pos []int32
	x   [][]float32 // L+1 residual streams (x[0]: embeddings)
	xm  [][]float32 // after attention, per layer
	r1  [][]float32 // rstd of input_layernorm
	r2  [][]float32 // rstd of post_attention_layernorm
	qkv [][]float32 // after RoPE
	p   [][]float32 // attention probabilities
	y   [][]float32 // attention output, before o_proj
	gu  [][]float32 // gate and up projections
	rF  []float32
	lnF []float32
	ln  []float32 // normalised input of a projection (recomputed in backward)
	h   []float32 // SwiGLU output (recomputed in backward)

	dres, dtmp, dqkv, dgu, dh, attScratch []float32
	rowLoss, scale                        []float32

	head cpu.HeadLoss
}

// ensure sizes the buffers for a b x t batch (with backward buffers when grads is set).
func (m *Model) ensure(b, t int, grads bool) {
	d, a := dimsOf(m.cfg), &m.acts
	n, att := b*t, b*d.H*t*t
	if n <= a.n && att <= a.att && t <= a.t && (a.grads || !grads) {
		return
	}
	n, att, t = max(n, a.n), max(att, a.att), max(t, a.t)
	grads = grads || a.grads
	mk := func(k int) []float32 { return make([]float32, k) }
	perLayer := func(count, k int) [][]float32 {
		out := make([][]float32, count)
		for i := range out {
			out[i] = mk(k)
		}
		return out
	}
	*a = acts{n: n, att: att, t: t, grads: grads, head: a.head,
		pos: make([]int32, n),
		x:   perLayer(d.L+1, n*d.D), xm: perLayer(d.L, n*d.D),
		r1: perLayer(d.L, n), r2: perLayer(d.L, n),
		qkv: perLayer(d.L, n*d.W), p: perLayer(d.L, att), y: perLayer(d.L, n*d.D),
		gu: perLayer(d.L, n*2*d.F), rF: mk(n), lnF: mk(n * d.D), ln: mk(n * d.D), h: mk(n * d.F),
		rowLoss: mk(n), scale: mk(n),
	}
	if grads {
		a.dres, a.dtmp, a.dqkv = mk(n*d.D), mk(n*d.D), mk(n*d.W)
		a.dgu, a.dh = mk(n*2*d.F), mk(n*d.F)
		a.attScratch = mk(m.be.Threads() * t * t)
	}
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

// forward runs the decoder over a B x T batch up to the final RMSNorm (acts.lnF).
func (m *Model) forward(inputs []int32, B, T int) {
	d, a, be := dimsOf(m.cfg), &m.acts, m.be
	n := B * T
	eps := float32(m.cfg.RMSNormEps)
	for i := 0; i < n; i++ {
		a.pos[i] = int32(i % T)
	}
	shape := cpu.AttentionShape{B: B, T: T, Heads: d.H, KVHeads: d.KV, HeadDim: d.HD}
	cpu.EmbeddingForward(be, a.x[0], m.embed.w, inputs, d.D)
	for l, lv := range m.layers {
		x, xm, xn := a.x[l][:n*d.D], a.xm[l][:n*d.D], a.x[l+1][:n*d.D]
		qkv := a.qkv[l][:n*d.W]
		cpu.RMSNormForward(be, a.ln, a.r1[l], x, lv.inNorm.w, n, d.D, eps)
		cpu.LinearForward(be, qkv, a.ln, lv.qkv.w, n, d.D, d.W)
		m.rope.Forward(be, qkv, n, d.W, 0, d.H+d.KV, a.pos)
		cpu.AttentionForward(be, shape, a.y[l], a.p[l], qkv)
		copy(xm, x)
		cpu.LinearForwardAdd(be, xm, a.y[l], lv.o.w, n, d.D, d.D)
		cpu.RMSNormForward(be, a.ln, a.r2[l], xm, lv.postNorm.w, n, d.D, eps)
		cpu.LinearForward(be, a.gu[l], a.ln, lv.gateUp.w, n, d.D, 2*d.F)
		cpu.SwiGLUForward(be, a.h, a.gu[l], n, d.F)
		copy(xn, xm)
		cpu.LinearForwardAdd(be, xn, a.h, lv.down.w, n, d.F, d.D)
	}
	cpu.RMSNormForward(be, a.lnF, a.rF, a.x[d.L], m.norm.w, n, d.D, eps)
}

// backward adds the parameter gradients given d loss / d lnF in acts.dtmp.
func (m *Model) backward(inputs []int32, B, T int) {
	d, a, be := dimsOf(m.cfg), &m.acts, m.be
	n := B * T
	shape := cpu.AttentionShape{B: B, T: T, Heads: d.H, KVHeads: d.KV, HeadDim: d.HD}
	dres, dtmp := a.dres[:n*d.D], a.dtmp[:n*d.D]
	clear(dres)
	cpu.RMSNormBackward(be, dres, m.norm.g, dtmp, a.x[d.L], m.norm.w, a.rF, n, d.D)
	for l := d.L - 1; l >= 0; l-- {
		lv := m.layers[l]
		x, xm := a.x[l][:n*d.D], a.xm[l][:n*d.D]
		// MLP: x[l+1] = xm + down(swiglu(gate_up(norm(xm))))
		cpu.RMSNormApply(be, a.ln, a.r2[l], xm, lv.postNorm.w, n, d.D)
		cpu.LinearBackwardInput(be, a.dh, dres, lv.down.w, n, d.F, d.D, false)
		cpu.SwiGLUBackward(be, a.dgu, a.h, a.dh, a.gu[l], n, d.F)
		cpu.LinearBackwardWeight(be, lv.down.g, dres, a.h, n, d.F, d.D)
		cpu.LinearBackward(be, dtmp, lv.gateUp.g, a.dgu, a.ln, lv.gateUp.w, n, d.D, 2*d.F, false)
		cpu.RMSNormBackward(be, dres, lv.postNorm.g, dtmp, xm, lv.postNorm.w, a.r2[l], n, d.D)
		// Attention: xm = x + o(attention(rope(qkv(norm(x)))))
		cpu.LinearBackward(be, dtmp, lv.o.g, dres, a.y[l], lv.o.w, n, d.D, d.D, false)
		cpu.AttentionBackward(be, shape, a.dqkv, dtmp, a.qkv[l], a.p[l], a.attScratch)
		m.rope.Backward(be, a.dqkv, n, d.W, 0, d.H+d.KV, a.pos)
		cpu.RMSNormApply(be, a.ln, a.r1[l], x, lv.inNorm.w, n, d.D)
		cpu.LinearBackward(be, dtmp, lv.qkv.g, a.dqkv, a.ln, lv.qkv.w, n, d.D, d.W, false)
		cpu.RMSNormBackward(be, dres, lv.inNorm.g, dtmp, x, lv.inNorm.w, a.r1[l], n, d.D)
	}
	cpu.EmbeddingBackward(be, m.embed.g, dres, inputs, d.D)
}

// sampleLosses turns the per-row losses into each sample's mean over its non-negative
// targets (0 for a sample without any), summing in float64 in position order.
func (m *Model) sampleLosses(b *compute.Batch) []float32 {
	out := make([]float32, b.B)
	for s := 0; s < b.B; s++ {
		cnt := 0
		var sum float64
		for t := 0; t < b.T; t++ {
			i := s*b.T + t
			if b.Targets[i] >= 0 {
				cnt++
				sum += float64(m.acts.rowLoss[i])
			}
		}
		if cnt > 0 {
			out[s] = float32(sum / float64(cnt))
		}
	}
	return out
}

// ForwardBackward computes each sample's mean loss over its non-negative targets and adds the
// gradient of sum_b weights[b]*loss[b] to the parameters' Grad (compute.Model). A sample without
// any target has loss 0 and contributes no gradient.
func (m *Model) ForwardBackward(b *compute.Batch, weights []float32) ([]float32, error) {
	if err := m.checkBatch(b); err != nil {
		return nil, err
	}
	if b.Targets == nil {
		return nil, fmt.Errorf("llama: batch has no targets")
	}
	if len(weights) != b.B {
		return nil, fmt.Errorf("llama: %d loss weights for a batch of %d samples", len(weights), b.B)
	}
	d, a := dimsOf(m.cfg), &m.acts
	n := b.B * b.T
	m.ensure(b.B, b.T, true)
	m.forward(b.Inputs, b.B, b.T)
	m.rowScale(b, weights)
	a.head.Run(m.be, a.rowLoss, a.lnF, m.head.w, b.Targets, a.scale, a.dtmp[:n*d.D], m.head.g, n, d.D, d.V)
	losses := m.sampleLosses(b)
	m.backward(b.Inputs, b.B, b.T)
	return losses, nil
}

// rowScale sets acts.scale[i] = weights[sample]/targets-in-sample for every row.
func (m *Model) rowScale(b *compute.Batch, weights []float32) {
	a := &m.acts
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
			a.scale[s*b.T+t] = w
		}
	}
}

// Loss computes each sample's mean loss over its non-negative targets, without gradients.
func (m *Model) Loss(b *compute.Batch) ([]float32, error) {
	if err := m.checkBatch(b); err != nil {
		return nil, err
	}
	if b.Targets == nil {
		return nil, fmt.Errorf("llama: batch has no targets")
	}
	d, a := dimsOf(m.cfg), &m.acts
	n := b.B * b.T
	m.ensure(b.B, b.T, false)
	m.forward(b.Inputs, b.B, b.T)
	a.head.Run(m.be, a.rowLoss, a.lnF, m.head.w, b.Targets, nil, nil, nil, n, d.D, d.V)
	return m.sampleLosses(b), nil
}

// Logits returns the logits at every position of the batch's inputs (targets are ignored):
// B*T rows of VocabSize values, row-major.
func (m *Model) Logits(b *compute.Batch) ([]float32, error) {
	if err := m.checkBatch(b); err != nil {
		return nil, err
	}
	d, a := dimsOf(m.cfg), &m.acts
	n := b.B * b.T
	m.ensure(b.B, b.T, false)
	m.forward(b.Inputs, b.B, b.T)
	out := make([]float32, n*d.V)
	cpu.LinearForward(m.be, out, a.lnF[:n*d.D], m.head.w, n, d.D, d.V)
	return out, nil
}
