package cpu

import (
	"math"

	"github.com/ordermerge/ordermerge/compute"
)

// The strided forms of RMSNorm (compute.Norm with LD > 0, or Replace): the same arithmetic
// as the packed functions, with each vector found through s.Offset.

func rmsNormForwardStrided(be Backend, out, rstd, x, w []float32, s compute.Norm) {
	d := s.D
	For(be.Threads(), s.Rows, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := s.Offset(i)
			row := x[o : o+d]
			var ss float32
			for _, v := range row {
				ss += v * v
			}
			r := float32(1 / math.Sqrt(float64(ss/float32(d)+s.Eps)))
			rstd[i] = r
			dst := out[o : o+d]
			for j, v := range row {
				dst[j] = v * r * w[j]
			}
		}
	})
}

func rmsNormApplyStrided(be Backend, out, rstd, x, w []float32, s compute.Norm) {
	d := s.D
	For(be.Threads(), s.Rows, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o, r := s.Offset(i), rstd[i]
			row, dst := x[o:o+d], out[o:o+d]
			for j, v := range row {
				dst[j] = v * r * w[j]
			}
		}
	})
}

// rmsNormBackwardStrided adds (or with Replace, writes) dx, and adds to dw. dx may be dout.
func rmsNormBackwardStrided(be Backend, dx, dw, dout, x, w, rstd []float32, s compute.Norm) {
	d := s.D
	// dw first: it reads dout, which dx may overwrite. Split by columns: each dw element sums
	// its vectors in order, whatever the threads.
	For(be.Threads(), d, func(lo, hi int) {
		acc := dw[lo:hi]
		for i := 0; i < s.Rows; i++ {
			o, r := s.Offset(i), rstd[i]
			row, g := x[o+lo:o+hi], dout[o+lo:o+hi]
			for j, v := range row {
				acc[j] += g[j] * v * r
			}
		}
	})
	For(be.Threads(), s.Rows, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o, r := s.Offset(i), rstd[i]
			row, g := x[o:o+d], dout[o:o+d]
			var dot float32
			for j, v := range row {
				dot += g[j] * w[j] * v
			}
			c := dot * r * r * r / float32(d)
			dst := dx[o : o+d]
			for j, v := range row {
				if s.Replace {
					dst[j] = r*w[j]*g[j] - c*v
				} else {
					dst[j] += r*w[j]*g[j] - c*v
				}
			}
		}
	})
}
