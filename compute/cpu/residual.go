package cpu

// Add sets out = a + b elementwise (the residual connection's forward pass; its backward pass
// passes the gradient to both inputs unchanged, which AddTo does).
func Add(be Backend, out, a, b []float32) {
	For(be.Threads(), (len(out)+1023)/1024, func(lo, hi int) {
		lo, hi = lo*1024, min(hi*1024, len(out))
		o, x, y := out[lo:hi], a[lo:hi], b[lo:hi]
		for i := range o {
			o[i] = x[i] + y[i]
		}
	})
}

// AddTo adds src to dst elementwise.
func AddTo(be Backend, dst, src []float32) {
	For(be.Threads(), (len(dst)+1023)/1024, func(lo, hi int) {
		lo, hi = lo*1024, min(hi*1024, len(dst))
		o, x := dst[lo:hi], src[lo:hi]
		for i := range o {
			o[i] += x[i]
		}
	})
}
