package main

import (
	"math"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
)

// adamW is the benchmark's optimizer: torch.optim.AdamW's update (decoupled weight decay 0.1
// on matrices, none on norms; betas 0.9, 0.999; eps 1e-8), split over threads by fixed
// chunks of each parameter.
type adamW struct {
	params  []*compute.Param
	m, v    [][]float32
	t       int
	threads int
}

func newAdamW(params []*compute.Param, threads int) *adamW {
	o := &adamW{params: params, threads: threads}
	for _, p := range params {
		o.m = append(o.m, make([]float32, len(p.Data)))
		o.v = append(o.v, make([]float32, len(p.Data)))
	}
	return o
}

func (o *adamW) step(lr float64) {
	const b1, b2, eps, wd = 0.9, 0.999, 1e-8, 0.1
	o.t++
	c1 := 1 - math.Pow(b1, float64(o.t))
	c2 := 1 - math.Pow(b2, float64(o.t))
	for i, p := range o.params {
		m, v := o.m[i], o.v[i]
		decay := float32(1 - lr*wd)
		if p.NoDecay {
			decay = 1
		}
		step := float32(lr / c1)
		rc2 := float32(1 / math.Sqrt(c2))
		cpu.For(o.threads, (len(p.Data)+4095)/4096, func(lo, hi int) {
			lo, hi = lo*4096, min(hi*4096, len(p.Data))
			d, g := p.Data[lo:hi], p.Grad[lo:hi]
			mm, vv := m[lo:hi], v[lo:hi]
			for j := range d {
				gj := g[j]
				mm[j] = b1*mm[j] + (1-b1)*gj
				vv[j] = b2*vv[j] + (1-b2)*gj*gj
				d[j] = d[j]*decay - step*mm[j]/(float32(math.Sqrt(float64(vv[j])))*rc2+eps)
			}
		})
	}
}
