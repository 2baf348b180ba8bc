package llama

import (
	"fmt"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
)

// KVCache holds every layer's keys and values for a batch of sequences being generated, so
// each new token costs one position's work instead of the whole prefix's. Sequences advance
// independently (ragged batches need no padding). Make one with Model.NewKVCache; it belongs
// to that model's shape.
type KVCache struct {
	shape cpu.KVCacheShape
	lens  []int
	k, v  [][]float32 // per layer: slots x maxLen x kvHeads*headDim
}

// NewKVCache makes an empty cache for batch sequences of up to maxLen positions each
// (maxLen <= max_position_embeddings).
func (m *Model) NewKVCache(batch, maxLen int) (*KVCache, error) {
	d := dimsOf(m.cfg)
	if batch <= 0 || maxLen <= 0 {
		return nil, fmt.Errorf("llama: KV cache of %d sequences x %d positions: both must be positive", batch, maxLen)
	}
	if maxLen > m.cfg.MaxPositionEmbeddings {
		return nil, fmt.Errorf("llama: KV cache length %d exceeds max_position_embeddings %d", maxLen, m.cfg.MaxPositionEmbeddings)
	}
	c := &KVCache{shape: cpu.KVCacheShape{Slots: batch, MaxLen: maxLen, Heads: d.H, KVHeads: d.KV, HeadDim: d.HD}, lens: make([]int, batch)}
	per := batch * maxLen * d.KV * d.HD
	for l := 0; l < d.L; l++ {
		c.k = append(c.k, make([]float32, per))
		c.v = append(c.v, make([]float32, per))
	}
	return c, nil
}

// Batch is the number of sequences the cache holds.
func (c *KVCache) Batch() int { return c.shape.Slots }

// MaxLen is the number of positions each sequence can hold.
func (c *KVCache) MaxLen() int { return c.shape.MaxLen }

// Len is the number of positions of sequence b cached so far.
func (c *KVCache) Len(b int) int { return c.lens[b] }

// Reset empties every sequence (the memory is kept).
func (c *KVCache) Reset() { clear(c.lens) }

// infer holds the scratch of the incremental forward pass, grown as needed.
type infer struct {
	x, ln, qkv, y, gu, h, rstd, scratch []float32
	ids, pos                            []int32
	seqs                                []cpu.CachedSeq
}

// Extend appends tokens[b] to sequence b of the cache (an empty or nil slice leaves it as it
// is), running the model on the new positions only. It returns, for every sequence given at
// least one token, the logits after its last new token (VocabSize values), and nil for the
// others. The result is the same as Logits over the whole sequences, up to float32 rounding.
func (m *Model) Extend(c *KVCache, tokens [][]int32) ([][]float32, error) {
	d := dimsOf(m.cfg)
	if c == nil || len(c.k) != d.L || c.shape.Heads != d.H || c.shape.KVHeads != d.KV || c.shape.HeadDim != d.HD {
		return nil, fmt.Errorf("llama: KV cache was not made by this model's shape")
	}
	if len(tokens) != c.shape.Slots {
		return nil, fmt.Errorf("llama: %d token lists for a KV cache of %d sequences", len(tokens), c.shape.Slots)
	}
	in := &m.inf
	in.ids, in.pos, in.seqs = in.ids[:0], in.pos[:0], in.seqs[:0]
	maxCount := 1
	for b, toks := range tokens {
		if c.lens[b]+len(toks) > c.shape.MaxLen {
			return nil, fmt.Errorf("llama: sequence %d would reach %d positions; the KV cache holds %d", b, c.lens[b]+len(toks), c.shape.MaxLen)
		}
		for j, id := range toks {
			if id < 0 || int(id) >= d.V {
				return nil, fmt.Errorf("llama: sequence %d new token %d: id %d outside the vocabulary [0, %d)", b, j, id, d.V)
			}
			in.ids = append(in.ids, id)
			in.pos = append(in.pos, int32(c.lens[b]+j))
		}
		in.seqs = append(in.seqs, cpu.CachedSeq{Slot: b, Row: len(in.ids) - len(toks), Count: len(toks), Past: c.lens[b]})
		maxCount = max(maxCount, len(toks))
	}
	n := len(in.ids)
	out := make([][]float32, len(tokens))
	if n == 0 {
		return out, nil
	}
	be, eps := m.be, float32(m.cfg.RMSNormEps)
	grow := func(buf *[]float32, k int) []float32 {
		if cap(*buf) < k {
			*buf = make([]float32, k)
		}
		*buf = (*buf)[:k]
		return *buf
	}
	x, ln, qkv, y := grow(&in.x, n*d.D), grow(&in.ln, n*d.D), grow(&in.qkv, n*d.W), grow(&in.y, n*d.D)
	gu, h, rstd := grow(&in.gu, n*2*d.F), grow(&in.h, n*d.F), grow(&in.rstd, n)
	scratch := grow(&in.scratch, c.shape.CachedScratchSize(be.Threads(), maxCount))
	kvw := d.KV * d.HD
	cpu.EmbeddingForward(be, x, m.embed.w, in.ids, d.D)
	for l, lv := range m.layers {
		cpu.RMSNormForward(be, ln, rstd, x, lv.inNorm.w, n, d.D, eps)
		cpu.LinearForward(be, qkv, ln, lv.qkv.w, n, d.D, d.W)
		m.rope.Forward(be, qkv, n, d.W, 0, d.H+d.KV, in.pos)
		for _, q := range in.seqs {
			for j := 0; j < q.Count; j++ {
				row := qkv[(q.Row+j)*d.W:]
				at := (q.Slot*c.shape.MaxLen + q.Past + j) * kvw
				copy(c.k[l][at:at+kvw], row[d.H*d.HD:])
				copy(c.v[l][at:at+kvw], row[(d.H+d.KV)*d.HD:])
			}
		}
		cpu.AttentionCached(be, c.shape, y, qkv, c.k[l], c.v[l], in.seqs, scratch, maxCount)
		cpu.LinearForwardAdd(be, x, y, lv.o.w, n, d.D, d.D)
		cpu.RMSNormForward(be, ln, rstd, x, lv.postNorm.w, n, d.D, eps)
		cpu.LinearForward(be, gu, ln, lv.gateUp.w, n, d.D, 2*d.F)
		cpu.SwiGLUForward(be, h, gu, n, d.F)
		cpu.LinearForwardAdd(be, x, h, lv.down.w, n, d.F, d.D)
	}
	// Only each sequence's last new row needs the final norm and the head.
	var last []int
	for _, q := range in.seqs {
		if q.Count > 0 {
			last = append(last, q.Row+q.Count-1)
			c.lens[q.Slot] += q.Count
		}
	}
	return m.headRows(x, last, in.seqs, out), nil
}

// headRows computes the final norm and the LM head for the given rows of x and stores each
// result in out at the slot of the sequence it belongs to.
func (m *Model) headRows(x []float32, rows []int, seqs []cpu.CachedSeq, out [][]float32) [][]float32 {
	d, be := dimsOf(m.cfg), m.be
	k := len(rows)
	sel, normed, rstd := make([]float32, k*d.D), make([]float32, k*d.D), make([]float32, k)
	for i, r := range rows {
		copy(sel[i*d.D:(i+1)*d.D], x[r*d.D:(r+1)*d.D])
	}
	cpu.RMSNormForward(be, normed, rstd, sel, m.norm.w, k, d.D, float32(m.cfg.RMSNormEps))
	logits := make([]float32, k*d.V)
	cpu.LinearForward(be, logits, normed, m.head.w, k, d.D, d.V)
	i := 0
	for _, q := range seqs {
		if q.Count > 0 {
			out[q.Slot] = logits[i*d.V : (i+1)*d.V : (i+1)*d.V]
			i++
		}
	}
	return out
}

// LastLogits runs the full forward pass (no cache) over each prefix and returns the logits
// after its last token; an empty prefix gets nil. Prefixes are right-padded into one batch,
// which causal attention makes invisible to the real positions.
func (m *Model) LastLogits(prefixes [][]int32) ([][]float32, error) {
	T := 0
	for _, p := range prefixes {
		T = max(T, len(p))
	}
	out := make([][]float32, len(prefixes))
	if T == 0 {
		return out, nil
	}
	B := len(prefixes)
	b := &compute.Batch{B: B, T: T, Inputs: make([]int32, B*T)}
	for i, p := range prefixes {
		copy(b.Inputs[i*T:], p)
	}
	if err := m.checkBatch(b); err != nil {
		return nil, err
	}
	m.ensure(B, T, false)
	m.forward(b.Inputs, B, T)
	var rows []int
	seqs := make([]cpu.CachedSeq, B)
	for i, p := range prefixes {
		seqs[i] = cpu.CachedSeq{Slot: i, Count: len(p)}
		if len(p) > 0 {
			rows = append(rows, i*T+len(p)-1)
		}
	}
	return m.headRows(m.acts.x[dimsOf(m.cfg).L], rows, seqs, out), nil
}
