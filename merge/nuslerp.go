package merge

import (
	"fmt"
	"math"
)

// nuslerp is mergekit's nuslerp: spherical interpolation between two models (or, with a base,
// between their task vectors, added back to the base) at t = w_2 / (w_1 + w_2), over the whole
// flattened tensor (nuslerp_flatten, the default), over each row (the last dimension), or
// with nuslerp_row_wise over each column (the first dimension). Each vector has its own
// angle; where sin(theta) < 1e-8 the vectors are colinear and it interpolates linearly.
type nuslerp struct{}

func (nuslerp) Info() MethodInfo {
	return MethodInfo{
		Name:      "nuslerp",
		Summary:   "slerp at t = w2/(w1+w2) between two models, or their task vectors with a base; whole tensor, per row or per column",
		MinModels: 2,
		MaxModels: 2,
		Passes:    "1 (the angles)",
		Params: []ParamSpec{
			{Name: "weight", PerModel: true, Kind: FloatParam, Required: true, Doc: "relative weight: t = w2 / (w1 + w2)"},
			{Name: "nuslerp_flatten", Kind: BoolParam, Default: 1, Fixed: true, Doc: "one angle for the whole tensor"},
			{Name: "nuslerp_row_wise", Kind: BoolParam, Fixed: true, Doc: "without flatten: one angle per column (along the first dimension) instead of per row"},
		},
	}
}

func (nuslerp) NewKernel(ti TensorInfo, p *TensorParams) (Kernel, error) {
	if len(ti.Models) != 2 {
		return nil, fmt.Errorf("nuslerp merges exactly two models (plus an optional base), got %d", len(ti.Models))
	}
	w := p.Models("weight")
	t := 0.5 // mergekit's choice when the weights cancel
	if s := w[0] + w[1]; math.Abs(s) >= 1e-6 {
		t = w[1] / s
	}
	k := &nuslerpKernel{t: t, base: ti.HasBase, groupOf: func(int) int { return 0 }, groups: 1}
	if !p.Bool("nuslerp_flatten") && len(ti.Shape) >= 2 {
		last := ti.Shape[len(ti.Shape)-1]
		if p.Bool("nuslerp_row_wise") {
			// transpose(0, -1): a vector per index of every dimension but the first.
			inner := ti.Numel / max(1, ti.Shape[0])
			k.groups = inner
			k.groupOf = func(j int) int { return j % inner }
		} else {
			k.groups = ti.Numel / max(1, last)
			k.groupOf = func(j int) int { return j / last }
		}
	}
	return k, nil
}

type nuslerpKernel struct {
	t       float64
	base    bool
	groups  int
	groupOf func(j int) int
	// per group: dot, |v0|^2, |v1|^2, then the two coefficients
	dot, n0, n1 []float64
	c0, c1      []float64
}

func (k *nuslerpKernel) ScanPasses() int { return 1 }

// vecs returns the two vectors' elements j: the models, or their task vectors.
func (k *nuslerpKernel) vecs(b *Block, j int) (float64, float64) {
	x, y := float64(b.Models[0][j]), float64(b.Models[1][j])
	if k.base {
		bv := float64(b.Base[j])
		x, y = float64(float32(x-bv)), float64(float32(y-bv))
	}
	return x, y
}

func (k *nuslerpKernel) Scan(_ int, b *Block) {
	if k.dot == nil {
		k.dot, k.n0, k.n1 = make([]float64, k.groups), make([]float64, k.groups), make([]float64, k.groups)
	}
	for j := range b.Models[0] {
		g := k.groupOf(b.Offset + j)
		x, y := k.vecs(b, j)
		k.dot[g] += x * y
		k.n0[g] += x * x
		k.n1[g] += y * y
	}
}

func (k *nuslerpKernel) EndScan(int) {
	k.c0, k.c1 = make([]float64, k.groups), make([]float64, k.groups)
	for g := range k.c0 {
		// As mergekit: unit vectors with norms clamped at 1e-7, the cosine clamped to [-1, 1].
		c := k.dot[g] / (math.Max(math.Sqrt(k.n0[g]), 1e-7) * math.Max(math.Sqrt(k.n1[g]), 1e-7))
		theta := math.Acos(math.Max(-1, math.Min(1, c)))
		s := math.Sin(theta)
		if math.Abs(s) < 1e-8 {
			k.c0[g], k.c1[g] = 1-k.t, k.t
			continue
		}
		k.c0[g], k.c1[g] = math.Sin((1-k.t)*theta)/s, math.Sin(k.t*theta)/s
	}
	k.dot, k.n0, k.n1 = nil, nil, nil
}

func (k *nuslerpKernel) Merge(b *Block) {
	for j := range b.Out {
		g := k.groupOf(b.Offset + j)
		x, y := k.vecs(b, j)
		v := k.c0[g]*x + k.c1[g]*y
		if k.base {
			v += float64(b.Base[j])
		}
		b.Out[j] = float32(v)
	}
}
