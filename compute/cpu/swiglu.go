package cpu

import "github.com/ordermerge/ordermerge/compute/cpu/internal/vecmath"

// SwiGLUForward computes Llama's gated MLP activation for n rows: each row of gu holds the
// gate projection's f values then the up projection's f values (one matrix product computes
// both), and h = silu(gate) * up with silu(x) = x * sigmoid(x).
func SwiGLUForward(be Backend, h, gu []float32, n, f int) {
	For(be.Threads(), n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			vecmath.SwiGLU(h[i*f:(i+1)*f], gu[2*i*f:(2*i+1)*f], gu[(2*i+1)*f:(2*i+2)*f])
		}
	})
}

// SwiGLUBackward computes dgu (overwritten; same layout as gu) from dh, and recomputes the
// forward output into h in the same pass (the down projection's weight gradient needs it,
// and recomputing is cheaper than keeping it for every layer).
//
//	d gate = dh * up * sigmoid(g) * (1 + g*(1 - sigmoid(g)));  d up = dh * silu(g)
func SwiGLUBackward(be Backend, dgu, h, dh, gu []float32, n, f int) {
	For(be.Threads(), n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g, u := gu[2*i*f:(2*i+1)*f], gu[(2*i+1)*f:(2*i+2)*f]
			dg, du := dgu[2*i*f:(2*i+1)*f], dgu[(2*i+1)*f:(2*i+2)*f]
			vecmath.SwiGLUGrad(dg, du, h[i*f:(i+1)*f], g, u, dh[i*f:(i+1)*f])
		}
	})
}
