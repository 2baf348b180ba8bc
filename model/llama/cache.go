package llama

import (
	"fmt"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/internal/parallel"
	"github.com/ordermerge/ordermerge/tensor"
)

// KVCache holds every layer's keys and values for a batch of sequences being generated, in
// the model's device memory, so each new token costs one position's work instead of the
// whole prefix's. Sequences advance independently (ragged batches need no padding). Make one
// with Model.NewKVCache; it belongs to that model's shape.
type KVCache struct {
	shape compute.KVCacheShape
	lens  []int
	k, v  []compute.Buf // per layer: slots x maxLen x kvHeads*headDim
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
	c := &KVCache{shape: compute.KVCacheShape{Slots: batch, MaxLen: maxLen, Heads: d.H, KVHeads: d.KV, HeadDim: d.HD, Window: m.arch.window}, lens: make([]int, batch)}
	per := c.shape.CacheSize()
	for l := 0; l < d.L; l++ {
		k, err := m.dev.Alloc(compute.F32, per)
		if err != nil {
			return nil, fmt.Errorf("llama: KV cache: %w", err)
		}
		v, err := m.dev.Alloc(compute.F32, per)
		if err != nil {
			return nil, fmt.Errorf("llama: KV cache: %w", err)
		}
		c.k, c.v = append(c.k, k), append(c.v, v)
	}
	// A new generation starts from the current weights.
	m.refreshProd()
	return c, nil
}

// CacheBytes is the device memory of a KV cache of batch sequences of maxLen positions.
func CacheBytes(cfg *tensor.Config, batch, maxLen int) int64 {
	d := dimsOf(cfg)
	return 2 * 4 * int64(d.L) * int64(batch) * int64(maxLen) * int64(d.KV*d.HD)
}

// Batch is the number of sequences the cache holds.
func (c *KVCache) Batch() int { return c.shape.Slots }

// MaxLen is the number of positions each sequence can hold.
func (c *KVCache) MaxLen() int { return c.shape.MaxLen }

// Len is the number of positions of sequence b cached so far.
func (c *KVCache) Len(b int) int { return c.lens[b] }

// Reset empties every sequence (the memory is kept).
func (c *KVCache) Reset() { clear(c.lens) }

// infer holds the device scratch of the incremental forward pass, grown as needed.
type infer struct {
	x, ln, qkv, y, gu, h, rstd, scratch compute.Buf
	pre, rq, rk                         compute.Buf // Qwen3's q/k norms
	sel, normed, logits                 compute.Buf
	meta, next                          compute.Buf // I32: ids | positions | last rows; next tokens
	hostMeta                            []int32
	seqs                                []compute.CachedSeq
}

// grow returns buf resliced to n elements, reallocating only when it is too small.
func (m *Model) grow(buf *compute.Buf, dt compute.DType, n int) (compute.Buf, error) {
	if buf.Len() < n {
		b, err := m.dev.Alloc(dt, max(n, 1))
		if err != nil {
			return compute.Buf{}, fmt.Errorf("llama: %w", err)
		}
		*buf = b
	}
	return buf.Slice(0, n), nil
}

// Extend appends tokens[b] to sequence b of the cache (an empty or nil slice leaves it as it
// is), running the model on the new positions only. It returns, for every sequence given at
// least one token, the logits after its last new token (VocabSize values), and nil for the
// others. The result is the same as Logits over the whole sequences, up to float32 rounding.
func (m *Model) Extend(c *KVCache, tokens [][]int32) (out [][]float32, err error) {
	defer parallel.Recover(&err, "llama: extend")
	rows, err := m.extend(c, tokens)
	if err != nil || rows == 0 {
		return make([][]float32, len(tokens)), err
	}
	return m.lastLogits(rows, m.inf.seqs, len(tokens))
}

// ExtendGreedy is Extend returning, instead of the logits, each sequence's most likely next
// token (the lowest id on ties), chosen on the device: only the token ids come back to the
// host. Sequences given no tokens get -1.
func (m *Model) ExtendGreedy(c *KVCache, tokens [][]int32) (next []int32, err error) {
	defer parallel.Recover(&err, "llama: extend")
	rows, err := m.extend(c, tokens)
	if err != nil {
		return nil, err
	}
	return m.lastArgMax(rows, m.inf.seqs, len(tokens))
}

// extend runs the new tokens through every layer against the cache, leaving the residual
// stream of the new rows in inf.x and the rows of each sequence in inf.seqs; it returns the
// number of rows and uploads each sequence's last row index for lastLogits.
func (m *Model) extend(c *KVCache, tokens [][]int32) (int, error) {
	d := dimsOf(m.cfg)
	if c == nil || len(c.k) != d.L || c.shape.Heads != d.H || c.shape.KVHeads != d.KV || c.shape.HeadDim != d.HD {
		return 0, fmt.Errorf("llama: KV cache was not made by this model's shape")
	}
	if len(tokens) != c.shape.Slots {
		return 0, fmt.Errorf("llama: %d token lists for a KV cache of %d sequences", len(tokens), c.shape.Slots)
	}
	in := &m.inf
	in.seqs = in.seqs[:0]
	n := 0
	for b, toks := range tokens {
		if c.lens[b]+len(toks) > c.shape.MaxLen {
			return 0, fmt.Errorf("llama: sequence %d would reach %d positions; the KV cache holds %d", b, c.lens[b]+len(toks), c.shape.MaxLen)
		}
		for j, id := range toks {
			if id < 0 || int(id) >= d.V {
				return 0, fmt.Errorf("llama: sequence %d new token %d: id %d outside the vocabulary [0, %d)", b, j, id, d.V)
			}
		}
		in.seqs = append(in.seqs, compute.CachedSeq{Slot: b, Row: n, Count: len(toks), Past: c.lens[b]})
		n += len(toks)
	}
	if n == 0 {
		return 0, nil
	}
	// One upload per step: the ids, their positions and each sequence's last row.
	meta := in.hostMeta[:0]
	for _, toks := range tokens {
		meta = append(meta, toks...)
	}
	for b, toks := range tokens {
		for j := range toks {
			meta = append(meta, int32(c.lens[b]+j))
		}
	}
	for _, q := range in.seqs {
		if q.Count > 0 {
			meta = append(meta, int32(q.Row+q.Count-1))
		}
	}
	in.hostMeta = meta
	metaBuf, err := m.grow(&in.meta, compute.I32, len(meta))
	if err != nil {
		return 0, err
	}
	if err := m.dev.WriteI32(metaBuf, meta); err != nil {
		return 0, fmt.Errorf("llama: %w", err)
	}
	ids, pos := metaBuf.Slice(0, n), metaBuf.Slice(n, 2*n)
	dev := m.dev
	var bufs [7]compute.Buf
	for i, sz := range []int{n * d.D, n * d.D, n * d.W, n * d.Q, n * 2 * d.F, n * d.F, n} {
		dst := []*compute.Buf{&in.x, &in.ln, &in.qkv, &in.y, &in.gu, &in.h, &in.rstd}[i]
		if bufs[i], err = m.grow(dst, compute.F32, sz); err != nil {
			return 0, err
		}
	}
	x, ln, qkv, y, gu, h, rstd := bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], bufs[5], bufs[6]
	scratch, err := m.grow(&in.scratch, compute.F32, max(1, dev.AttentionCachedScratch(c.shape, in.seqs)))
	if err != nil {
		return 0, err
	}
	var pa compute.Buf // bf16 product inputs (bf16 precision only)
	if m.prec == compute.PrecisionBF16 {
		if pa, err = m.grow(&m.acts.pa, compute.BF16, max(n*productWidth(d), m.acts.pa.Len())); err != nil {
			return 0, err
		}
	}
	if m.arch.qkNorm {
		for _, g := range []struct {
			buf *compute.Buf
			n   int
		}{{&in.pre, n * d.W}, {&in.rq, n * d.H}, {&in.rk, n * d.KV}} {
			if _, err := m.grow(g.buf, compute.F32, g.n); err != nil {
				return 0, err
			}
		}
	}
	_, norm, rope := m.shapes(1, n)
	if m.prec == compute.PrecisionBF16 { // the norms and SwiGLU write the products' inputs as bf16
		ln, h = m.prodOut(ln, pa), m.prodOut(h, pa)
	}
	dev.Embedding(x, m.embed.w, ids, d.D)
	for l, lv := range m.layers {
		dev.RMSNorm(ln, rstd, x, lv.inNorm.w, norm)
		m.qkvProjection(qkv, ln, lv, n, -1)
		dev.RoPE(qkv, qkv, pos, m.rope, rope, false)
		dev.KVAppend(c.k[l], c.v[l], qkv, c.shape, in.seqs)
		dev.AttentionCached(y, qkv, c.k[l], c.v[l], scratch, c.shape, in.seqs)
		m.linear(x, m.pin(y, pa), lv.o.p, n, d.Q, d.D, 1)
		if m.arch.oBias {
			dev.AddBias(x, lv.oBias.w, n, d.D)
		}
		dev.RMSNorm(ln, rstd, x, lv.postNorm.w, norm)
		m.linear(gu, ln, lv.gateUp.p, n, d.D, 2*d.F, 0)
		dev.SwiGLU(h, gu, n, d.F)
		m.linear(x, h, lv.down.p, n, d.F, d.D, 1)
	}
	for _, q := range in.seqs {
		c.lens[q.Slot] += q.Count
	}
	return n, nil
}

// headRows runs the final norm and the LM head on rows (I32, k row indices) of x into
// inf.logits (k x VocabSize).
func (m *Model) headRows(x, rows compute.Buf, k int) (compute.Buf, error) {
	d, in := dimsOf(m.cfg), &m.inf
	sel, err := m.grow(&in.sel, compute.F32, k*d.D)
	if err != nil {
		return compute.Buf{}, err
	}
	normed, err := m.grow(&in.normed, compute.F32, k*d.D)
	if err != nil {
		return compute.Buf{}, err
	}
	rstd, err := m.grow(&in.rstd, compute.F32, max(k, in.rstd.Len()))
	if err != nil {
		return compute.Buf{}, err
	}
	logits, err := m.grow(&in.logits, compute.F32, k*d.V)
	if err != nil {
		return compute.Buf{}, err
	}
	m.dev.GatherRows(sel, x, rows, d.D)
	in2 := normed
	if m.prec == compute.PrecisionBF16 { // the norm writes the head's product input as bf16
		pa, err := m.grow(&m.acts.pa, compute.BF16, max(k*d.D, m.acts.pa.Len()))
		if err != nil {
			return compute.Buf{}, err
		}
		in2 = m.prodOut(normed, pa)
	}
	m.dev.RMSNorm(in2, rstd.Slice(0, k), sel, m.norm.w, compute.Norm{Rows: k, D: d.D, Eps: float32(m.cfg.RMSNormEps)})
	m.linear(logits, in2, m.head.p, k, d.D, d.V, 0)
	return logits, nil
}

// lastRows returns the I32 buffer of each active sequence's last row (uploaded by extend)
// and their number.
func (m *Model) lastRows(n int) (compute.Buf, int) {
	k := len(m.inf.hostMeta) - 2*n
	return m.inf.meta.Slice(2*n, 2*n+k), k
}

// lastLogits returns the logits after each active sequence's last new row.
func (m *Model) lastLogits(n int, seqs []compute.CachedSeq, slots int) ([][]float32, error) {
	rows, k := m.lastRows(n)
	logits, err := m.headRows(m.inf.x, rows, k)
	if err != nil {
		return nil, err
	}
	host, err := compute.Read(logits)
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	return scatterRows(host, seqs, slots, dimsOf(m.cfg).V), nil
}

// scatterRows hands row i of k rows of v values to the i-th sequence with new tokens.
func scatterRows(host []float32, seqs []compute.CachedSeq, slots, v int) [][]float32 {
	out := make([][]float32, slots)
	i := 0
	for _, q := range seqs {
		if q.Count > 0 {
			out[q.Slot] = host[i*v : (i+1)*v : (i+1)*v]
			i++
		}
	}
	return out
}

// lastArgMax returns each active sequence's greedy next token (-1 for the others).
func (m *Model) lastArgMax(n int, seqs []compute.CachedSeq, slots int) ([]int32, error) {
	out := make([]int32, slots)
	for i := range out {
		out[i] = -1
	}
	if n == 0 {
		return out, nil
	}
	rows, k := m.lastRows(n)
	logits, err := m.headRows(m.inf.x, rows, k)
	if err != nil {
		return nil, err
	}
	next, err := m.grow(&m.inf.next, compute.I32, k)
	if err != nil {
		return nil, err
	}
	m.dev.ArgMax(next, logits, k, dimsOf(m.cfg).V)
	host := make([]int32, k)
	if err := m.dev.ReadI32(host, next); err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	i := 0
	for _, q := range seqs {
		if q.Count > 0 {
			out[q.Slot] = host[i]
			i++
		}
	}
	return out, nil
}

// LastLogits runs the full forward pass (no cache) over each prefix and returns the logits
// after its last token; an empty prefix gets nil. Prefixes are right-padded into one batch,
// which causal attention makes invisible to the real positions.
func (m *Model) LastLogits(prefixes [][]int32) (out [][]float32, err error) {
	defer parallel.Recover(&err, "llama: last logits")
	T := 0
	for _, p := range prefixes {
		T = max(T, len(p))
	}
	if T == 0 {
		return make([][]float32, len(prefixes)), nil
	}
	B := len(prefixes)
	b := &compute.Batch{B: B, T: T, Inputs: make([]int32, B*T)}
	for i, p := range prefixes {
		copy(b.Inputs[i*T:], p)
	}
	if err := m.prepare(b, false); err != nil {
		return nil, err
	}
	m.forward(B, T)
	var rows []int32
	seqs := make([]compute.CachedSeq, B)
	for i, p := range prefixes {
		seqs[i] = compute.CachedSeq{Slot: i, Count: len(p)}
		if len(p) > 0 {
			rows = append(rows, int32(i*T+len(p)-1))
		}
	}
	rowBuf, err := m.grow(&m.inf.meta, compute.I32, len(rows))
	if err != nil {
		return nil, err
	}
	if err := m.dev.WriteI32(rowBuf, rows); err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	d := dimsOf(m.cfg)
	logits, err := m.headRows(m.acts.x[d.L].Slice(0, B*T*d.D), rowBuf, len(rows))
	if err != nil {
		return nil, err
	}
	host, err := compute.Read(logits)
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	return scatterRows(host, seqs, B, d.V), nil
}

// ContextLength is the longest sequence the model takes (max_position_embeddings).
func (m *Model) ContextLength() int { return m.cfg.MaxPositionEmbeddings }

// VocabSize is the number of token ids.
func (m *Model) VocabSize() int { return m.cfg.VocabSize }

// NewDecoder starts incremental decoding of batch sequences of up to maxLen positions (a
// KV cache bound to the model): what package eval generates with.
func (m *Model) NewDecoder(batch, maxLen int) (compute.Decoder, error) {
	c, err := m.NewKVCache(batch, maxLen)
	if err != nil {
		return nil, err
	}
	return decoder{m, c}, nil
}

type decoder struct {
	m *Model
	c *KVCache
}

func (d decoder) Extend(tokens [][]int32) ([][]float32, error) { return d.m.Extend(d.c, tokens) }
func (d decoder) ExtendGreedy(tokens [][]int32) ([]int32, error) {
	return d.m.ExtendGreedy(d.c, tokens)
}
func (d decoder) MaxLen() int { return d.c.MaxLen() }
