package cpu

import "math"

// RMSNormForward normalises each of n rows of x (width d) by its root mean square and scales
// by w: out = x * rstd * w with rstd = 1/sqrt(mean(x^2) + eps), as Llama's RMSNorm does in
// float32. rstd (n values) is kept for the backward pass.
func RMSNormForward(be Backend, out, rstd, x, w []float32, n, d int, eps float32) {
	For(be.Threads(), n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := x[i*d : (i+1)*d]
			var ss float32
			for _, v := range row {
				ss += v * v
			}
			r := float32(1 / math.Sqrt(float64(ss/float32(d)+eps)))
			rstd[i] = r
			o := out[i*d : (i+1)*d]
			for j, v := range row {
				o[j] = v * r * w[j]
			}
		}
	})
}

// RMSNormApply recomputes the forward output from x and the kept rstd (cheaper than storing
// it: the backward pass needs it only as the input of the next matrix product's gradient).
func RMSNormApply(be Backend, out, rstd, x, w []float32, n, d int) {
	For(be.Threads(), n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := rstd[i]
			row, o := x[i*d:(i+1)*d], out[i*d:(i+1)*d]
			for j, v := range row {
				o[j] = v * r * w[j]
			}
		}
	})
}

// RMSNormBackward adds the gradient of the normalisation to dx (n x d) and to dw (d), given
// dout, the input x and the kept rstd.
//
//	dx = rstd*w*dout - x * rstd^3/d * sum_j(dout_j w_j x_j);  dw += sum over rows of dout*x*rstd
func RMSNormBackward(be Backend, dx, dw, dout, x, w, rstd []float32, n, d int) {
	For(be.Threads(), n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row, g := x[i*d:(i+1)*d], dout[i*d:(i+1)*d]
			r := rstd[i]
			var dot float32
			for j, v := range row {
				dot += g[j] * w[j] * v
			}
			c := dot * r * r * r / float32(d)
			o := dx[i*d : (i+1)*d]
			for j, v := range row {
				o[j] += r*w[j]*g[j] - c*v
			}
		}
	})
	// Split by columns: each dw element sums its rows in row order, whatever the threads.
	For(be.Threads(), d, func(lo, hi int) {
		acc := dw[lo:hi]
		for i := 0; i < n; i++ {
			r := rstd[i]
			row, g := x[i*d+lo:i*d+hi], dout[i*d+lo:i*d+hi]
			for j, v := range row {
				acc[j] += g[j] * v * r
			}
		}
	})
}
