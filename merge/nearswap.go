package merge

import (
	"fmt"
	"math"
)

// nearswap (mergekit's nearswap, after alchemonaut's QuartetAnemoi): per element, move from
// the base towards the one other model by w = clamp(t / |b - x|, 0, 1): elements that differ
// by less than t are taken from the model, larger differences are damped.
type nearswap struct{}

func (nearswap) Info() MethodInfo {
	return MethodInfo{
		Name:      "nearswap",
		Summary:   "interpolate base -> model per element by clamp(t / |base - model|, 0, 1)",
		NeedsBase: true,
		MinModels: 1,
		MaxModels: 1,
		Endpoints: 2,
		Passes:    "0 (element-wise)",
		Params: []ParamSpec{
			{Name: "t", Kind: FloatParam, Required: true, Doc: "the sameness threshold (> 0)"},
		},
	}
}

func (nearswap) NewKernel(ti TensorInfo, p *TensorParams) (Kernel, error) {
	if !ti.HasBase || len(ti.Models) != 1 {
		return nil, fmt.Errorf("nearswap takes the base and exactly one other model")
	}
	t := p.Float("t")
	if t <= 0 {
		return nil, p.errorf("t", "must be > 0")
	}
	return nearswapKernel{t: t}, nil
}

type nearswapKernel struct {
	NoScan
	t float64
}

func (k nearswapKernel) Merge(b *Block) {
	x := b.Models[0][:len(b.Out)]
	for j, v0 := range b.Base[:len(b.Out)] {
		v1 := float64(x[j])
		d := math.Abs(float64(v0) - v1)
		w := 1.0 // equal elements (t/0): mergekit maps the infinity to 1
		if d > 0 {
			w = math.Min(1, k.t/d)
		}
		b.Out[j] = float32(w*v1 + (1-w)*float64(v0))
	}
}
