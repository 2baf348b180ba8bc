package cpu

import (
	"math"

	"github.com/ordermerge/ordermerge/compute"

	"github.com/ordermerge/ordermerge/compute/cpu/internal/vecmath"
)

// AttentionScratchSize is the scratch AttentionBackward needs with the given thread count.
func AttentionScratchSize(s compute.AttentionShape, threads int) int { return threads * s.T * s.T }

// attnBlock is the row-block size of the causal products: rows [r0, r1) only need keys
// [0, r1), so cutting the T x T products into row blocks skips most of the masked half.
const attnBlock = 32

func attnBlocks(T int) int { return (T + attnBlock - 1) / attnBlock }

func attnBlockRows(i, T int) (r0, r1 int) { return i * attnBlock, min((i+1)*attnBlock, T) }

// AttentionForward computes softmax(q k^T / sqrt(HeadDim)) v with a causal mask for every
// sequence and head. out is B*T x Heads*HeadDim (head h in columns h*HeadDim...), att receives
// the probabilities (B x Heads x T x T, zero above the diagonal) for the backward pass.
func AttentionForward(be Backend, s compute.AttentionShape, out, att, qkv []float32) {
	ld, D, T, hd := s.QKVWidth(), s.Heads*s.HeadDim, s.T, s.HeadDim
	rep := s.Heads / s.KVHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	For(be.Threads(), s.B*s.Heads, func(lo, hi int) {
		for task := lo; task < hi; task++ {
			b, h := task/s.Heads, task%s.Heads
			g := h / rep
			base := b * T * ld
			q := qkv[base+h*hd:]
			k := qkv[base+(s.Heads+g)*hd:]
			v := qkv[base+(s.Heads+s.KVHeads+g)*hd:]
			p := att[task*T*T : (task+1)*T*T]
			o := out[b*T*D+h*hd:]
			for blk := 0; blk < attnBlocks(T); blk++ {
				r0, r1 := attnBlockRows(blk, T)
				be.Gemm(false, true, r1-r0, r1, hd, scale, q[r0*ld:], ld, k, ld, 0, p[r0*T:], T)
				for i := r0; i < r1; i++ {
					softmaxWindowRow(p[i*T:(i+1)*T], s.FirstKey(i), i)
				}
				be.Gemm(false, false, r1-r0, hd, r1, 1, p[r0*T:], T, v, ld, 0, o[r0*D:], D)
			}
		}
	})
}

// softmaxWindowRow turns row i of the scores into probabilities over keys lo..i and zeroes
// the rest (lo is 0 without a sliding window).
func softmaxWindowRow(row []float32, lo, i int) {
	x := row[lo : i+1]
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	inv := 1 / vecmath.ExpShift(x, x, m)
	for j := range x {
		x[j] *= inv
	}
	clear(row[:lo])
	clear(row[i+1:])
}

// AttentionBackward computes dqkv (overwritten; same layout as qkv) from dout (the gradient of
// AttentionForward's out), the qkv input and the kept probabilities. Work is split by
// (sequence, KV head), so the query heads that share a KV head add into its gradient in a
// fixed order. scratch holds ScratchSize(be.Threads()) values.
func AttentionBackward(be Backend, s compute.AttentionShape, dqkv, dout, qkv, att, scratch []float32) {
	ld, D, T, hd := s.QKVWidth(), s.Heads*s.HeadDim, s.T, s.HeadDim
	rep := s.Heads / s.KVHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	ForWorker(be.Threads(), s.B*s.KVHeads, func(w, lo, hi int) {
		ds := scratch[w*T*T : (w+1)*T*T]
		for task := lo; task < hi; task++ {
			b, g := task/s.KVHeads, task%s.KVHeads
			base := b * T * ld
			k := qkv[base+(s.Heads+g)*hd:]
			v := qkv[base+(s.Heads+s.KVHeads+g)*hd:]
			dk := dqkv[base+(s.Heads+g)*hd:]
			dv := dqkv[base+(s.Heads+s.KVHeads+g)*hd:]
			for t := 0; t < T; t++ {
				clear(dk[t*ld : t*ld+hd])
				clear(dv[t*ld : t*ld+hd])
			}
			for h := g * rep; h < (g+1)*rep; h++ {
				q := qkv[base+h*hd:]
				dq := dqkv[base+h*hd:]
				do := dout[b*T*D+h*hd:]
				p := att[(b*s.Heads+h)*T*T : (b*s.Heads+h+1)*T*T]
				for blk := 0; blk < attnBlocks(T); blk++ {
					r0, r1 := attnBlockRows(blk, T)
					// dv[0:r1] += p[r0:r1, 0:r1]^T do[r0:r1]
					be.Gemm(true, false, r1, hd, r1-r0, 1, p[r0*T:], T, do[r0*D:], D, 1, dv, ld)
					// dp = do v^T on the block, then the softmax backward in place.
					be.Gemm(false, true, r1-r0, r1, hd, 1, do[r0*D:], D, v, ld, 0, ds[r0*T:], T)
					for i := r0; i < r1; i++ {
						pr, dr := p[i*T:i*T+i+1], ds[i*T:i*T+i+1]
						var dot float32
						for j, pv := range pr {
							dot += pv * dr[j]
						}
						for j, pv := range pr {
							dr[j] = pv * (dr[j] - dot)
						}
						clear(ds[i*T+i+1 : i*T+r1])
					}
					// dq[r0:r1] = scale * ds k;  dk[0:r1] += scale * ds^T q[r0:r1]
					be.Gemm(false, false, r1-r0, hd, r1, scale, ds[r0*T:], T, k, ld, 0, dq[r0*ld:], ld)
					be.Gemm(true, false, r1, hd, r1-r0, scale, ds[r0*T:], T, q[r0*ld:], ld, 1, dk, ld)
				}
			}
		}
	})
}
