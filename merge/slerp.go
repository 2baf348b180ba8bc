package merge

import (
	"fmt"
	"math"
)

// slerp interpolates spherically between two endpoints, treating each tensor as one flat
// vector: the base and one model, or (without a base) the first and second models.
type slerp struct{}

// slerpParallel is the |cos| above which the endpoints count as parallel and slerp falls back
// to linear interpolation (mergekit's threshold).
const slerpParallel = 0.9995

func (slerp) Info() MethodInfo {
	return MethodInfo{
		Name:      "slerp",
		Summary:   "spherical interpolation between two endpoints: base -> model, or model 1 -> model 2 without a base",
		MinModels: 1,
		MaxModels: 2,
		Endpoints: 2,
		Passes:    "1 (the angle between the endpoints)",
		Params: []ParamSpec{
			{Name: "t", Kind: FloatParam, Required: true, Doc: "position between the endpoints: 0 is the first (the base), 1 the second"},
		},
	}
}

func (slerp) NewKernel(ti TensorInfo, p *TensorParams) (Kernel, error) {
	ends := len(ti.Models)
	if ti.HasBase {
		ends++
	}
	if ends != 2 {
		return nil, fmt.Errorf("slerp interpolates between exactly two endpoints (the base and one model, or two models without a base), got %d", ends)
	}
	t := p.Float("t")
	if t < 0 || t > 1 {
		return nil, p.errorf("t", "must be in [0, 1]")
	}
	return &slerpKernel{t: t, s0: 1 - t, s1: t}, nil
}

type slerpKernel struct {
	t           float64
	dot, n0, n1 float64
	s0, s1      float64
	lerp        bool
	theta, cos  float64
}

func (k *slerpKernel) ends(b *Block) (v0, v1 []float32) {
	if b.Base != nil {
		return b.Base, b.Models[0]
	}
	return b.Models[0], b.Models[1]
}

func (k *slerpKernel) ScanPasses() int { return 1 }

func (k *slerpKernel) Scan(_ int, b *Block) {
	v0, v1 := k.ends(b)
	var dot, n0, n1 float64
	for j, a := range v0 {
		x, y := float64(a), float64(v1[j])
		dot += x * y
		n0 += x * x
		n1 += y * y
	}
	k.dot += dot
	k.n0 += n0
	k.n1 += n1
}

func (k *slerpKernel) EndScan(int) {
	k.s0, k.s1 = 1-k.t, k.t
	if k.n0 == 0 || k.n1 == 0 {
		k.lerp = true
		return
	}
	c := k.dot / (math.Sqrt(k.n0) * math.Sqrt(k.n1))
	c = math.Max(-1, math.Min(1, c))
	k.cos = c
	if math.Abs(c) > slerpParallel {
		k.lerp = true
		return
	}
	theta := math.Acos(c)
	sin := math.Sin(theta)
	k.theta = theta
	k.s0 = math.Sin((1-k.t)*theta) / sin
	k.s1 = math.Sin(k.t*theta) / sin
}

func (k *slerpKernel) Note() string {
	if k.lerp {
		return fmt.Sprintf("lerp (cos=%.6g)", k.cos)
	}
	return fmt.Sprintf("theta=%.4g rad", k.theta)
}

func (k *slerpKernel) Merge(b *Block) {
	v0, v1 := k.ends(b)
	for j := range b.Out {
		b.Out[j] = float32(float64(k.s0*float64(v0[j])) + float64(k.s1*float64(v1[j])))
	}
}
