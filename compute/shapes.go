package compute

import "fmt"

// GEMM describes the matrix product c = Alpha*op(a)*op(b) + Beta*c on row-major matrices:
// c is M x N; op(a) is M x K (a is stored K x M when TransA); op(b) is K x N (b is stored N x K
// when TransB). Leading dimensions of zero mean packed rows. With Beta == 0, c's old values
// (even NaN) are ignored.
type GEMM struct {
	TransA, TransB bool
	M, N, K        int
	Alpha, Beta    float32
	LDA, LDB, LDC  int
	// TF32 lets a GPU's tensor cores round F32 inputs to 10-bit mantissas (precision tf32).
	TF32 bool
}

// Lds returns the leading dimensions with the packed defaults filled in.
func (g GEMM) Lds() (lda, ldb, ldc int) {
	lda, ldb, ldc = g.LDA, g.LDB, g.LDC
	if lda == 0 {
		lda = g.K
		if g.TransA {
			lda = g.M
		}
	}
	if ldb == 0 {
		ldb = g.N
		if g.TransB {
			ldb = g.K
		}
	}
	if ldc == 0 {
		ldc = g.N
	}
	return lda, ldb, ldc
}

// need is the number of elements a rows x cols matrix with leading dimension ld spans.
func need(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

// Check reports whether the buffers hold the matrices g describes.
func (g GEMM) Check(c, a, b Buf) error {
	if g.M < 0 || g.N < 0 || g.K < 0 {
		return fmt.Errorf("matmul %dx%dx%d: negative size", g.M, g.N, g.K)
	}
	lda, ldb, ldc := g.Lds()
	ar, ac := g.M, g.K
	if g.TransA {
		ar, ac = g.K, g.M
	}
	br, bc := g.K, g.N
	if g.TransB {
		br, bc = g.N, g.K
	}
	switch {
	case lda < ac || ldb < bc || ldc < g.N:
		return fmt.Errorf("matmul %dx%dx%d: leading dimensions %d, %d, %d are shorter than the rows", g.M, g.N, g.K, lda, ldb, ldc)
	case a.Len() < need(ar, ac, lda):
		return fmt.Errorf("matmul %dx%dx%d: a (%s) has %d elements, needs %d", g.M, g.N, g.K, a, a.Len(), need(ar, ac, lda))
	case b.Len() < need(br, bc, ldb):
		return fmt.Errorf("matmul %dx%dx%d: b (%s) has %d elements, needs %d", g.M, g.N, g.K, b, b.Len(), need(br, bc, ldb))
	case c.Len() < need(g.M, g.N, ldc):
		return fmt.Errorf("matmul %dx%dx%d: c (%s) has %d elements, needs %d", g.M, g.N, g.K, c, c.Len(), need(g.M, g.N, ldc))
	case a.DType() != b.DType() || (a.DType() != F32 && a.DType() != BF16):
		return fmt.Errorf("matmul: inputs are %s and %s; want both f32 or both bf16", a.DType(), b.DType())
	case c.DType() != F32:
		return fmt.Errorf("matmul: output is %s; want f32", c.DType())
	}
	return nil
}

// Norm is the shape of an RMSNorm: Rows vectors of D values.
type Norm struct {
	Rows, D int
	Eps     float32
	// With LD > 0 the vectors are strided inside a wider matrix: vector r is the D values from
	// (r/Group)*LD + Col + (r%Group)*D, Group consecutive vectors per matrix row (the query or
	// key heads of a qkv row, for Qwen3's per-head norms). LD == 0: packed rows.
	LD, Col, Group int
	// Replace makes RMSNormBackward overwrite dx with the gradient (dx may be dout itself)
	// instead of adding to it.
	Replace bool
}

// Check panics, naming op and the buffer, when one of bufs is too short for the norm: "rstd"
// holds Rows values, "w" and "dw" D, the others Span().
func (s Norm) Check(op string, bufs map[string]Buf) {
	for name, b := range bufs {
		n := s.Span()
		switch name {
		case "rstd":
			n = s.Rows
		case "w", "dw":
			n = s.D
		case "out":
			CheckOut(op, name, b, n)
			continue
		case "dxb":
			if !b.IsZero() {
				CheckLen(op, name, b, n, BF16)
			}
			continue
		}
		CheckLen(op, name, b, n, F32)
	}
}

// Strided reports whether the vectors are strided (LD > 0).
func (s Norm) Strided() bool { return s.LD > 0 }

// Offset is the index of vector r's first value.
func (s Norm) Offset(r int) int {
	if s.LD == 0 {
		return r * s.D
	}
	g := max(s.Group, 1)
	return (r/g)*s.LD + s.Col + (r%g)*s.D
}

// Span is the number of elements a buffer holding the vectors must have.
func (s Norm) Span() int {
	if s.Rows == 0 {
		return 0
	}
	return s.Offset(s.Rows-1) + s.D
}

// RoPEShape places the heads RoPE rotates: Heads consecutive heads of HeadDim values,
// starting at column Col of each of Rows rows of stride LD.
type RoPEShape struct {
	Rows, LD, Col, Heads, HeadDim int
}

// Check validates RoPE's buffers (see Kernels.RoPE) and reports whether it works in place (out
// is x) or writes all of x, rotated and rounded to bfloat16, into out.
func (s RoPEShape) Check(op string, out, x Buf) (inPlace bool) {
	CheckLen(op, "x", x, (s.Rows-1)*s.LD+s.Col+s.Heads*s.HeadDim, F32)
	if out.Storage() == x.Storage() && out.Offset() == x.Offset() && out.Len() == x.Len() {
		return true
	}
	if out.DType() != BF16 || out.Len() != s.Rows*s.LD || x.Len() != out.Len() || s.Col+s.Heads*s.HeadDim > s.LD {
		panic(fmt.Errorf("%s: out %s is neither x (%s) nor a BF16 buffer of its %d x %d values", op, out, x, s.Rows, s.LD))
	}
	return false
}

// RoPETable holds the rotation angles' cosines and sines, MaxPos x HeadDim/2 each (position
// p, pair i at index p*HeadDim/2 + i), in device memory.
type RoPETable struct {
	Cos, Sin Buf
	MaxPos   int
}

// AttentionShape is the shape of a batch for causal multi-head attention with grouped KV
// heads: B sequences of T positions, Heads query heads sharing KVHeads key/value heads (query
// head h uses KV head h / (Heads/KVHeads), as transformers' repeat_kv does), HeadDim each.
//
// Inputs come as one qkv matrix of B*T rows: the Heads query heads, then the KVHeads key
// heads, then the KVHeads value heads (QKVWidth columns), which is what one matrix product
// with the stacked q, k and v projection weights produces. Precision is the model's: at BF16
// a device may round q, k, v and the probabilities to bfloat16 for its products.
type AttentionShape struct {
	B, T, Heads, KVHeads, HeadDim int
	Precision                     Precision
	// Window, when positive, is a sliding window (Mistral's): position i attends to the keys
	// i-Window+1 .. i only.
	Window int
}

// FirstKey is the first key position a query at position i attends to.
func (s AttentionShape) FirstKey(i int) int { return firstKey(i, s.Window) }

func firstKey(i, window int) int {
	if window > 0 && i-window+1 > 0 {
		return i - window + 1
	}
	return 0
}

// QKVWidth is the width of a qkv row: (Heads + 2*KVHeads) * HeadDim.
func (s AttentionShape) QKVWidth() int { return (s.Heads + 2*s.KVHeads) * s.HeadDim }

// ProbsSize is the number of attention probabilities kept for the backward pass: B*Heads*T*T.
func (s AttentionShape) ProbsSize() int { return s.B * s.Heads * s.T * s.T }

// Check validates the shape.
func (s AttentionShape) Check() error {
	if s.B <= 0 || s.T <= 0 || s.Heads <= 0 || s.KVHeads <= 0 || s.HeadDim <= 0 || s.Heads%s.KVHeads != 0 {
		return fmt.Errorf("attention shape %+v: sizes must be positive and heads a multiple of kv heads", s)
	}
	return nil
}

// CachedSeq places one sequence's new rows for AttentionCached: rows [Row, Row+Count) of qkv
// are its positions Past .. Past+Count-1, and its keys and values live in slot Slot of the
// cache (positions 0 .. Past+Count-1 filled, the new ones included).
type CachedSeq struct {
	Slot, Row, Count, Past int
}

// KVCacheShape is the layout of a key (or value) cache: Slots sequences of up to MaxLen
// positions, each position KVHeads*HeadDim values, for one layer.
type KVCacheShape struct {
	Slots, MaxLen, Heads, KVHeads, HeadDim int
	// Window is the sliding window of the attention (0: none), as in AttentionShape.
	Window int
}

// FirstKey is the first cached position a query at position i attends to.
func (s KVCacheShape) FirstKey(i int) int { return firstKey(i, s.Window) }

// CacheSize is the number of values of one layer's key (or value) cache.
func (s KVCacheShape) CacheSize() int { return s.Slots * s.MaxLen * s.KVHeads * s.HeadDim }

// HeadShape is the shape of HeadLoss: Rows rows of D features, a vocabulary of V.
type HeadShape struct {
	Rows, D, V int
}

// AdamWParam is one parameter's buffers for AdamW: values, gradient, first and second
// moments (all F32, the same length).
type AdamWParam struct {
	Value, Grad, M, V Buf
	// NoDecay excludes the parameter from weight decay.
	NoDecay bool
}

// AdamWStep is one AdamW update's hyper-parameters. Step counts updates including this one
// (bias correction); GradScale multiplies every gradient first (global-norm clipping).
type AdamWStep struct {
	LR, Beta1, Beta2, Eps, WeightDecay, GradScale float64
	Step                                          int
}

// CheckOut is CheckLen for an output that may be F32 or BF16 (a product input, rounded to
// nearest even).
func CheckOut(op, name string, b Buf, n int) {
	if b.DType() == BF16 {
		CheckLen(op, name, b, n, BF16)
		return
	}
	CheckLen(op, name, b, n, F32)
}

// CheckLen panics with a message naming op and the buffer when b has fewer than n elements
// or the wrong dtype: the shared precondition of every device's operations.

func CheckLen(op, name string, b Buf, n int, dt DType) {
	if b.Len() < n {
		panic(fmt.Errorf("%s: %s (%s) has %d elements, needs %d", op, name, b, b.Len(), n))
	}
	if n > 0 && b.DType() != dt {
		panic(fmt.Errorf("%s: %s is %s, want %s", op, name, b.DType(), dt))
	}
}
