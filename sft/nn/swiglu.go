package nn

// SwiGLUForward computes Llama's gated MLP activation for n rows: each row of gu holds the
// gate projection's f values then the up projection's f values (one matrix product computes
// both), and h = silu(gate) * up with silu(x) = x * sigmoid(x).
func SwiGLUForward(be Backend, h, gu []float32, n, f int) {
	For(be.Threads(), n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g, u, o := gu[2*i*f:(2*i+1)*f], gu[(2*i+1)*f:(2*i+2)*f], h[i*f:(i+1)*f]
			for j, x := range g {
				o[j] = x * Sigmoid32(x) * u[j]
			}
		}
	})
}

// SwiGLUBackward computes dgu (overwritten; same layout as gu) from dh.
//
//	d gate = dh * up * sigmoid(g) * (1 + g*(1 - sigmoid(g)));  d up = dh * silu(g)
func SwiGLUBackward(be Backend, dgu, dh, gu []float32, n, f int) {
	For(be.Threads(), n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g, u := gu[2*i*f:(2*i+1)*f], gu[(2*i+1)*f:(2*i+2)*f]
			dg, du, d := dgu[2*i*f:(2*i+1)*f], dgu[(2*i+1)*f:(2*i+2)*f], dh[i*f:(i+1)*f]
			for j, x := range g {
				s := Sigmoid32(x)
				du[j] = d[j] * x * s
				dg[j] = d[j] * u[j] * s * (1 + x*(1-s))
			}
		}
	})
}
