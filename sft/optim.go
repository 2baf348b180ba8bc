package sft

import (
	"github.com/ordermerge/ordermerge/compute"
	par "github.com/ordermerge/ordermerge/internal/parallel"
	"math"
	"runtime"
)

// chunkSize is the fixed partition of every parameter for the parallel optimizer loops. It
// does not depend on the number of cores, so reductions (the gradient norm) add their partial
// sums in the same order on every machine: results are bit-identical whatever GOMAXPROCS is.
const chunkSize = 1 << 15

// span is one chunk of one parameter.
type span struct{ param, lo, hi int }

func spansOf(params []*compute.Param) []span {
	var out []span
	for i, p := range params {
		for lo := 0; lo < len(p.Data); lo += chunkSize {
			out = append(out, span{i, lo, min(lo+chunkSize, len(p.Data))})
		}
	}
	return out
}

// parallel runs fn(k) for k in [0, n) on up to GOMAXPROCS goroutines. Each k is independent,
// so the partition of k over goroutines never affects results.
func parallel(n int, fn func(k int)) { par.Each(runtime.GOMAXPROCS(0), n, fn) }

// adamW is AdamW with decoupled weight decay (Loshchilov & Hutter), matching PyTorch's
// torch.optim.AdamW update: decay, moments, bias correction, then the step.
type adamW struct {
	params []*compute.Param
	spans  []span
	m, v   [][]float32
	t      int // number of updates done (bias correction)
}

func newAdamW(params []*compute.Param) *adamW {
	o := &adamW{params: params, spans: spansOf(params), m: make([][]float32, len(params)), v: make([][]float32, len(params))}
	for i, p := range params {
		o.m[i] = make([]float32, len(p.Data))
		o.v[i] = make([]float32, len(p.Data))
	}
	return o
}

// gradNorm returns the global L2 norm of all gradients, summed in float64 in a fixed order.
func (o *adamW) gradNorm() float64 {
	partial := make([]float64, len(o.spans))
	parallel(len(o.spans), func(k int) {
		s := o.spans[k]
		var acc float64
		for _, g := range o.params[s.param].Grad[s.lo:s.hi] {
			acc += float64(g) * float64(g)
		}
		partial[k] = acc
	})
	var sum float64
	for _, p := range partial {
		sum += p
	}
	return math.Sqrt(sum)
}

// step applies one update with learning rate lr; gradScale multiplies every gradient first
// (global-norm clipping).
func (o *adamW) step(c *Config, lr float64, gradScale float64) {
	o.t++
	b1, b2 := c.Beta1, c.Beta2
	bc1 := 1 - math.Pow(b1, float64(o.t))
	bc2 := 1 - math.Pow(b2, float64(o.t))
	stepSize := lr / bc1
	sqrtBC2 := math.Sqrt(bc2)
	eps := c.Eps
	parallel(len(o.spans), func(k int) {
		s := o.spans[k]
		p := o.params[s.param]
		decay := 1 - lr*c.WeightDecay
		if p.NoDecay {
			decay = 1
		}
		data, grad := p.Data[s.lo:s.hi], p.Grad[s.lo:s.hi]
		m, v := o.m[s.param][s.lo:s.hi], o.v[s.param][s.lo:s.hi]
		for i := range data {
			g := float64(grad[i]) * gradScale
			mi := b1*float64(m[i]) + (1-b1)*g
			vi := b2*float64(v[i]) + (1-b2)*g*g
			m[i], v[i] = float32(mi), float32(vi)
			denom := math.Sqrt(float64(v[i]))/sqrtBC2 + eps
			data[i] = float32(float64(data[i])*decay - stepSize*float64(m[i])/denom)
		}
	})
}

// zeroGrads clears every gradient before a step accumulates into them.
func zeroGrads(params []*compute.Param) {
	for _, p := range params {
		clear(p.Grad)
	}
}
