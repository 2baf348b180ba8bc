package cpu

import (
	"math"

	"github.com/ordermerge/ordermerge/compute/cpu/internal/vecmath"
)

// DefaultHeadChunk bounds the logits HeadLoss holds at once (rows*vocab values: 32 MiB).
const DefaultHeadChunk = 1 << 23

// headChunk is the number of rows HeadLoss computes at once for rows target rows.
func headChunk(rows, v, chunkValues int) int {
	if chunkValues <= 0 {
		chunkValues = DefaultHeadChunk
	}
	return min(max(16, chunkValues/v), rows)
}

// HeadLossScratchSize is the scratch HeadLoss needs for n rows of d features and a
// vocabulary of v (chunkValues as in HeadLoss; 0 for the default).
func HeadLossScratchSize(n, d, v, chunkValues int) int {
	c := headChunk(n, v, chunkValues)
	return c * (2*d + v)
}

// HeadLoss computes a language-model head (logits = x W^T) fused with a masked softmax
// cross-entropy, a chunk of rows at a time, so the B*T x vocabulary logits never exist at
// once; rows without a target are skipped entirely (no logits, no gradient).
//
// It computes rowLoss[i] = -log softmax(x_i W^T)[targets[i]] for each of the n rows with
// targets[i] >= 0 (rowLoss[i] = 0 for the others). x is n x d, W is v x d (the lm_head or tied
// embedding weight). When dx is not nil it also computes the gradient of
// sum_i scale[i]*rowLoss[i]: dx (n x d) is overwritten, and dw (v x d) is added to. scratch
// holds HeadLossScratchSize(n, d, v, chunkValues) values.
func HeadLoss(be Backend, rowLoss, x, w []float32, targets []int32, scale []float32, dx, dw, scratch []float32, n, d, v, chunkValues int) {
	rows := make([]int32, 0, n)
	for i := 0; i < n; i++ {
		if targets[i] >= 0 {
			rows = append(rows, int32(i))
		}
		rowLoss[i] = 0
	}
	if dx != nil {
		clear(dx[:n*d])
	}
	chunk := headChunk(len(rows), v, chunkValues)
	if chunk == 0 {
		return
	}
	xsAll, logitsAll, dxsAll := scratch[:chunk*d], scratch[chunk*d:chunk*(d+v)], scratch[chunk*(d+v):chunk*(2*d+v)]
	for c0 := 0; c0 < len(rows); c0 += chunk {
		rows := rows[c0:min(c0+chunk, len(rows))]
		m := len(rows)
		xs, logits := xsAll[:m*d], logitsAll[:m*v]
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
		dxs := dxsAll[:m*d]
		LinearBackward(be, dxs, dw, logits, xs, w, m, d, v, false)
		for r, i := range rows {
			copy(dx[int(i)*d:(int(i)+1)*d], dxs[r*d:(r+1)*d])
		}
	}
}
