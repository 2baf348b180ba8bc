package merge

import (
	"errors"
	"math"
)

// multislerp is mergekit's multislerp: barycentric interpolation on the hypersphere of the
// models (or of their task vectors, added back to a base): the weighted mean of their unit
// vectors, projected back to the sphere through the tangent space at it, times the weighted
// mean of their norms. The tangent-space step adds the weighted tangents at the normalised
// mean, which sum to zero, so the result is the normalised weighted mean of the unit vectors:
// a linear combination of the inputs found from their Gram matrix in one statistics pass.
type multislerp struct{}

// multislerpEps is mergekit's eps: added to the norms and the tangent norm.
const multislerpEps = 1e-8

func (multislerp) Info() MethodInfo {
	return MethodInfo{
		Name:      "multislerp",
		Summary:   "spherical barycentre of the models (or task vectors with a base), times their weighted mean norm",
		MinModels: 1,
		Passes:    "1 (the Gram matrix)",
		Params: []ParamSpec{
			{Name: "weight", PerModel: true, Kind: FloatParam, Required: true, Doc: "the model's weight"},
			{Name: "normalize_weights", Kind: BoolParam, Default: 1, Fixed: true, Doc: "divide the weights by their sum"},
			{Name: "eps", Kind: FloatParam, Default: multislerpEps, Fixed: true, Doc: "small constant for numerical stability"},
		},
	}
}

func (multislerp) NewKernel(ti TensorInfo, p *TensorParams) (Kernel, error) {
	w := append([]float64(nil), p.Models("weight")...)
	if p.Bool("normalize_weights") {
		var s float64
		for _, x := range w {
			s += x
		}
		if s == 0 {
			return nil, p.modelErrorf("weight", 0, "the weights sum to 0, so they cannot be normalised")
		}
		for i := range w {
			w[i] /= s
		}
	}
	k := len(ti.Models)
	return &multislerpKernel{k: k, w: w, eps: p.Float("eps"), base: ti.HasBase, gram: make([]float64, k*k)}, nil
}

type multislerpKernel struct {
	k    int
	w    []float64
	eps  float64
	base bool
	gram []float64
	coef []float64
	err  error
}

func (m *multislerpKernel) Err() error { return m.err }

func (m *multislerpKernel) ScanPasses() int {
	if m.k == 1 {
		return 0
	}
	return 1
}

func (m *multislerpKernel) Scan(_ int, b *Block) {
	var base []float32
	if m.base {
		base = b.Base
	}
	gramScan(m.gram, m.k, b.Models, base)
}

func (m *multislerpKernel) EndScan(int) {
	k := m.k
	norms := make([]float64, k)
	for i := range norms {
		norms[i] = math.Sqrt(gramAt(m.gram, k, i, i))
	}
	// mean = sum_i w_i x_i / (|x_i| + eps)
	c := make([]float64, k)
	for i := range c {
		c[i] = m.w[i] / (norms[i] + m.eps)
	}
	var mn2 float64
	for i := range c {
		for l := range c {
			mn2 += c[i] * c[l] * gramAt(m.gram, k, i, l)
		}
	}
	mn := math.Sqrt(math.Max(mn2, 0))
	m.coef = make([]float64, k)
	if mn < m.eps {
		if k == 2 { // mergekit falls back to the weighted sum
			copy(m.coef, m.w)
			return
		}
		m.err = errors.New("multislerp: the weighted sum of the unit vectors is zero (antipodal inputs whose weights balance); change the weights")
		return
	}
	var avg float64
	for i := range norms {
		avg += norms[i] * m.w[i]
	}
	// The tangent step at the mean adds a zero vector: exp_mean(0) = mean, up to cos(eps).
	f := math.Cos(m.eps) * avg / mn
	for i := range c {
		m.coef[i] = f * c[i]
	}
}

func (m *multislerpKernel) Merge(b *Block) {
	if m.k == 1 {
		copy(b.Out, b.Models[0])
		return
	}
	if m.base {
		// base + sum c_i (x_i - base)
		var cs float64
		for _, c := range m.coef {
			cs += c
		}
		linearCombination(b.Out, m.coef, b.Models, b.Base, 1-cs)
		return
	}
	linearCombination(b.Out, m.coef, b.Models, nil, 0)
}
