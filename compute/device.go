package compute

// Device is where a model's tensors live and its operations run: the CPU (compute/cpu), or a
// GPU (compute/cuda). Models are written once against it, so a model's parameters,
// gradients, optimizer state and activations stay in the device's memory, and the host only
// sends token ids and reads back per-sample losses or next tokens.
//
// Operations are queued in order and may run asynchronously (a GPU device returns before the
// work is done). They report no error themselves: a device that fails (a launch error, say)
// keeps its first error and returns it from Sync and from every later read. A descriptor that
// does not fit its buffers is a programming error: the operation panics with a message naming
// the operation, the shape and the buffer, and the model's public methods turn that into an
// error (internal/parallel.Recover).
//
// A device is safe for use by several models at once, and by several goroutines as long as
// each goroutine works on buffers of its own.
type Device interface {
	// Name identifies the device: "cpu", "cuda:0".
	Name() string
	// Describe is one line about the device for logs (the hardware and the libraries used).
	Describe() string

	Memory
	Kernels
}

// Memory is a device's allocation and host transfers.
type Memory interface {
	// Alloc returns n zeroed elements of type dt.
	Alloc(dt DType, n int) (Buf, error)
	// WriteF32 copies src into dst (an F32 or BF16 buffer of len(src) elements; rounded to
	// nearest even for BF16).
	WriteF32(dst Buf, src []float32) error
	// WriteI32 copies src into dst (an I32 buffer of len(src) elements).
	WriteI32(dst Buf, src []int32) error
	// ReadF32 copies src (F32 or BF16) into dst (len(dst) == src.Len()); it waits for the
	// work queued before it.
	ReadF32(dst []float32, src Buf) error
	// ReadI32 copies src (I32) into dst.
	ReadI32(dst []int32, src Buf) error
	// Copy copies src into dst (same dtype and length).
	Copy(dst, src Buf)
	// Zero sets every element of b to zero.
	Zero(b Buf)
	// Cast converts src into dst: F32 to BF16 (round to nearest even) or BF16 to F32.
	Cast(dst, src Buf)
	// Sync waits until the queued work is done and returns the device's first error since it
	// was opened, if any.
	Sync() error
	// MemoryStats reports the device memory this process uses.
	MemoryStats() MemoryStats
}

// MemoryStats is a device's memory use.
type MemoryStats struct {
	// InUse and Peak count the bytes of the buffers this process allocated: now and at most.
	InUse, Peak int64
	// Total is the device's memory, Free what the device says is free now (0 when unknown).
	Total, Free int64
}

// Kernels are the operations a decoder language model is made of, each forward and backward
// where training needs both. Every buffer is F32 unless its comment says otherwise; token ids,
// positions and targets are I32. Outputs that feed matrix products may be BF16 where a comment
// says so: they then hold the F32 result rounded to nearest even (what Cast would make of it),
// so bf16 mixed precision needs no separate cast of them.
type Kernels interface {
	// MatMul computes c = Alpha*op(a)*op(b) + Beta*c (see GEMM). a and b are both F32 or both
	// BF16 (then each product is exact and sums in float32); c is F32.
	MatMul(c, a, b Buf, g GEMM)

	// Embedding copies row ids[i] of table (rows of width d) into row i of out.
	Embedding(out, table, ids Buf, d int)
	// EmbeddingBackward adds row i of dout to row ids[i] of dtable, in row order for every
	// element (deterministic). The ids come from the host (the batch's token ids), so a GPU
	// device can group the rows by token before it sums them.
	EmbeddingBackward(dtable, dout Buf, ids []int32, d int)

	// RMSNorm normalises each row of x by its root mean square and scales it by w:
	// out = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps); rstd (s.Rows values) is kept.
	// out may be BF16.
	RMSNorm(out, rstd, x, w Buf, s Norm)
	// RMSNormApply recomputes RMSNorm's out (F32 or BF16) from x and the kept rstd.
	RMSNormApply(out, x, w, rstd Buf, s Norm)
	// RMSNormBackward adds the gradient of RMSNorm to dx and to dw given dout. dxb, unless it
	// is the zero Buf, is a BF16 buffer of dx's layout that also receives the new dx's vectors
	// rounded to bfloat16 (the input of the products below).
	RMSNormBackward(dx, dxb, dw, dout, x, w, rstd Buf, s Norm)

	// RoPE rotates, in place, s.Heads heads of each row of x by the angles of the row's
	// position pos[row] (I32), as Hugging Face's rotate_half does; inverse applies the
	// transpose (the backward pass). out is x itself, or a BF16 buffer of s.Rows*s.LD values
	// (x's layout, and x must have as many) that receives all of x rotated and rounded to
	// bfloat16, the columns RoPE does not rotate as they are, x left unchanged.
	RoPE(out, x, pos Buf, t RoPETable, s RoPEShape, inverse bool)

	// Attention computes causal softmax(q k^T / sqrt(HeadDim)) v for every sequence and head
	// from one qkv matrix (see AttentionShape) into out (B*T x Heads*HeadDim) and keeps the
	// probabilities in att (s.ProbsSize() values) for the backward pass. out may be BF16.
	// scratch holds AttentionScratch(s, false) values.
	Attention(out, att, qkv, scratch Buf, s AttentionShape)
	// AttentionBackward computes dqkv (overwritten; qkv's layout) from dout, qkv and att.
	// scratch holds AttentionScratch(s, true) values.
	AttentionBackward(dqkv, dout, qkv, att, scratch Buf, s AttentionShape)
	// AttentionScratch is the scratch Attention (or AttentionBackward) needs, in F32 values.
	AttentionScratch(s AttentionShape, backward bool) int

	// KVAppend writes the keys and values of the new rows of qkv (laid out as for Attention)
	// into the caches kc and vc at each sequence's positions Past .. Past+Count-1.
	KVAppend(kc, vc, qkv Buf, s KVCacheShape, seqs []CachedSeq)
	// AttentionCached is causal attention of the new rows of each sequence against its cached
	// keys and values (incremental decoding), into out (Heads*HeadDim per row).
	AttentionCached(out, qkv, kc, vc, scratch Buf, s KVCacheShape, seqs []CachedSeq)
	// AttentionCachedScratch is the scratch AttentionCached needs, in F32 values.
	AttentionCachedScratch(s KVCacheShape, seqs []CachedSeq) int

	// SwiGLU computes h = silu(gate) * up for each row of gu (gate's f values, then up's); h
	// may be BF16.
	SwiGLU(h, gu Buf, rows, f int)
	// SwiGLUBackward computes dgu (overwritten) from dh, and recomputes h on the way; dgu and
	// h are both F32 or both BF16.
	SwiGLUBackward(dgu, h, dh, gu Buf, rows, f int)

	// Add sets out = a + b elementwise; AddTo adds src to dst.
	Add(out, a, b Buf)
	AddTo(dst, src Buf)
	// AddBias adds the bias b (cols values) to every row of x (rows x cols): a Linear layer's
	// bias. BiasGrad adds to db the column sums of dout, summing the rows in order.
	AddBias(x, b Buf, rows, cols int)
	BiasGrad(db, dout Buf, rows, cols int)

	// HeadLoss is the language-model head fused with a masked softmax cross-entropy:
	// rowLoss[i] = -log softmax(x_i w^T)[targets[i]] for rows with targets[i] >= 0 (0 for the
	// others), without holding every row's logits at once; rows without a target cost nothing.
	// With dx set (not the zero Buf), it also overwrites dx and adds to dw the gradient of
	// sum_i scale[i]*rowLoss[i]. x is Rows x D, w is V x D; the product inputs are BF16 when x
	// and w are. The targets (Rows values) come from the host (the batch's). scratch holds
	// HeadLossScratch(s) values.
	HeadLoss(rowLoss, x, w, scale, dx, dw, scratch Buf, targets []int32, s HeadShape)
	// HeadLossScratch is the scratch HeadLoss needs, in F32 values.
	HeadLossScratch(s HeadShape) int

	// GatherRows copies row rows[i] (I32) of src into row i of dst, rows of width d.
	GatherRows(dst, src, rows Buf, d int)
	// ArgMax writes into out (I32, rows values) the index of the largest of each row's n
	// values of x (the lowest index on ties).
	ArgMax(out, x Buf, rows, n int)

	// SumSquares returns the sum of the squares of every element of bufs, accumulated in
	// float64 in an order fixed by the buffers' lengths (the gradient norm). It waits for the
	// queued work.
	SumSquares(bufs []Buf) (float64, error)
	// AdamW applies one decoupled-weight-decay Adam update to every parameter (PyTorch's
	// torch.optim.AdamW arithmetic, in float64 per element on the CPU).
	AdamW(params []AdamWParam, s AdamWStep)
}
