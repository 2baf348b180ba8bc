package cpu

import (
	"fmt"
	"math"
	"runtime"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/internal/parallel"
)

// optimChunk is the fixed partition of every buffer for the optimizer loops. It does not
// depend on the number of cores, so the gradient norm adds its partial sums in the same order
// on every machine: results are bit-identical whatever GOMAXPROCS is.
const optimChunk = 1 << 15

// span is one chunk of one buffer.
type span struct{ buf, lo, hi int }

func spansOf(lens []int) []span {
	var out []span
	for i, n := range lens {
		for lo := 0; lo < n; lo += optimChunk {
			out = append(out, span{i, lo, min(lo+optimChunk, n)})
		}
	}
	return out
}

// SumSquares sums the squares of every element in float64: per fixed chunk of each buffer,
// then the chunks' sums in order.
func (d *Device) SumSquares(bufs []compute.Buf) (float64, error) {
	lens := make([]int, len(bufs))
	vals := make([][]float32, len(bufs))
	for i, b := range bufs {
		lens[i], vals[i] = b.Len(), F32(b)
	}
	spans := spansOf(lens)
	partial := make([]float64, len(spans))
	parallel.Each(runtime.GOMAXPROCS(0), len(spans), func(k int) {
		s := spans[k]
		var acc float64
		for _, g := range vals[s.buf][s.lo:s.hi] {
			acc += float64(g) * float64(g)
		}
		partial[k] = acc
	})
	var sum float64
	for _, p := range partial {
		sum += p
	}
	return sum, nil
}

// AdamW applies torch.optim.AdamW's update in float64 per element: decay, moments, bias
// correction, then the step.
func (d *Device) AdamW(params []compute.AdamWParam, s compute.AdamWStep) {
	lens := make([]int, len(params))
	for i, p := range params {
		n := p.Value.Len()
		for name, b := range map[string]compute.Buf{"grad": p.Grad, "m": p.M, "v": p.V} {
			if b.Len() != n {
				panic(fmt.Errorf("adamw: parameter %d: %s has %d elements, the value %d", i, name, b.Len(), n))
			}
		}
		lens[i] = n
	}
	b1, b2 := s.Beta1, s.Beta2
	bc1 := 1 - math.Pow(b1, float64(s.Step))
	bc2 := 1 - math.Pow(b2, float64(s.Step))
	stepSize := s.LR / bc1
	sqrtBC2 := math.Sqrt(bc2)
	eps, lr, gradScale := s.Eps, s.LR, s.GradScale
	spans := spansOf(lens)
	parallel.Each(runtime.GOMAXPROCS(0), len(spans), func(k int) {
		sp := spans[k]
		p := params[sp.buf]
		decay := 1 - lr*s.WeightDecay
		if p.NoDecay {
			decay = 1
		}
		data, grad := F32(p.Value)[sp.lo:sp.hi], F32(p.Grad)[sp.lo:sp.hi]
		m, v := F32(p.M)[sp.lo:sp.hi], F32(p.V)[sp.lo:sp.hi]
		for i := range data {
			g := float64(grad[i]) * gradScale
			// The explicit conversions round each product, so that no compiler fuses one
			// with the sum into an FMA (Go may on arm64): the CUDA kernel rounds the same
			// way, and the two devices agree bit for bit.
			mi := float64(b1*float64(m[i])) + float64((1-b1)*g)
			vi := float64(b2*float64(v[i])) + float64((1-b2)*g*g)
			m[i], v[i] = float32(mi), float32(vi)
			denom := math.Sqrt(float64(v[i]))/sqrtBC2 + eps
			data[i] = float32(float64(float64(data[i])*decay) - stepSize*float64(m[i])/denom)
		}
	})
}
