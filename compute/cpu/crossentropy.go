package cpu

import (
	"math"

	"github.com/ordermerge/ordermerge/compute/cpu/internal/vecmath"
)

// HeadLoss computes a language-model head (logits = x W^T) fused with a masked softmax
// cross-entropy, a chunk of rows at a time, so the B*T x vocabulary logits never exist at
// once; rows without a target are skipped entirely (no logits, no gradient). Its buffers grow
// to the largest chunk seen and are reused. The zero value is ready to use.
type HeadLoss struct {
	// ChunkValues bounds the logits held at once (rows*vocab); 0 means 1<<23 (32 MiB).
	ChunkValues int

	rows   []int32
	xs     []float32
	logits []float32
	dxs    []float32
}

// Run computes rowLoss[i] = -log softmax(x_i W^T)[targets[i]] for each of the n rows with
// targets[i] >= 0 (rowLoss[i] = 0 for the others). x is n x d, W is v x d (the lm_head or tied
// embedding weight). When dx is not nil it also computes the gradient of
// sum_i scale[i]*rowLoss[i]: dx (n x d) is overwritten, and dw (v x d) is added to.
func (h *HeadLoss) Run(be Backend, rowLoss, x, w []float32, targets []int32, scale []float32, dx, dw []float32, n, d, v int) {
	h.rows = h.rows[:0]
	for i := 0; i < n; i++ {
		if targets[i] >= 0 {
			h.rows = append(h.rows, int32(i))
		}
		rowLoss[i] = 0
	}
	if dx != nil {
		clear(dx[:n*d])
	}
	budget := h.ChunkValues
	if budget <= 0 {
		budget = 1 << 23
	}
	chunk := max(16, budget/v)
	chunk = min(chunk, len(h.rows))
	if chunk == 0 {
		return
	}
	h.xs = grow(h.xs, chunk*d)
	h.logits = grow(h.logits, chunk*v)
	if dx != nil {
		h.dxs = grow(h.dxs, chunk*d)
	}
	for c0 := 0; c0 < len(h.rows); c0 += chunk {
		rows := h.rows[c0:min(c0+chunk, len(h.rows))]
		m := len(rows)
		xs, logits := h.xs[:m*d], h.logits[:m*v]
		for r, i := range rows {
			copy(xs[r*d:(r+1)*d], x[int(i)*d:(int(i)+1)*d])
		}
		LinearForward(be, logits, xs, w, m, d, v)
		For(be.Threads(), m, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				i := rows[r]
				z := logits[r*v : (r+1)*v]
				t := targets[i]
				mx := z[0]
				for _, zv := range z[1:] {
					mx = max(mx, zv)
				}
				zt := z[t]
				// z becomes exp(z - max); the sum is taken in float32 lanes, fine for a
				// log: every term is at most 1 and the largest is exactly 1.
				sum := vecmath.ExpShift(z, z, mx)
				rowLoss[i] = float32(float64(mx) + math.Log(float64(sum)) - float64(zt))
				if dx == nil {
					continue
				}
				// d loss / d z = softmax(z) - onehot(t), times the row's weight.
				sc := scale[i]
				f := sc / sum
				for j := range z {
					z[j] *= f
				}
				z[t] -= sc
			}
		})
		if dx == nil {
			continue
		}
		dxs := h.dxs[:m*d]
		LinearBackward(be, dxs, dw, logits, xs, w, m, d, v, false)
		for r, i := range rows {
			copy(dx[int(i)*d:(int(i)+1)*d], dxs[r*d:(r+1)*d])
		}
	}
}

// grow returns buf resliced to n values, reallocating only when it is too small.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}
