package merge

import (
	"fmt"
	"math"
)

// karcher is mergekit's karcher: the Karcher (Riemannian) mean of the models' directions on
// the unit hypersphere, equal weights, scaled by the mean of their norms. Every iterate is a
// linear combination of the models, so one statistics pass (their Gram matrix) is enough: the
// iterations run on K coefficients, and the output pass forms the combination.
type karcher struct{}

func (karcher) Info() MethodInfo {
	return MethodInfo{
		Name:      "karcher",
		Summary:   "Karcher mean on the hypersphere of the models (equal weights), times their mean norm",
		MinModels: 1,
		Passes:    "1 (the models' Gram matrix)",
		Params: []ParamSpec{
			{Name: "max_iter", Kind: IntParam, Default: 10, Fixed: true, Doc: "iterations of the Riemannian gradient step"},
			{Name: "tol", Kind: FloatParam, Default: 1e-5, Fixed: true, Doc: "convergence tolerance (and the norm below which a model is left out)"},
		},
	}
}

func (karcher) NewKernel(ti TensorInfo, p *TensorParams) (Kernel, error) {
	if ti.HasBase {
		return nil, fmt.Errorf("karcher takes no base model (list it among the models)")
	}
	it := p.Int("max_iter")
	if it < 0 || it > 10000 {
		return nil, p.errorf("max_iter", "must be in [0, 10000]")
	}
	tol := p.Float("tol")
	if tol < 0 {
		return nil, p.errorf("tol", "must not be negative")
	}
	k := len(ti.Models)
	return &karcherKernel{k: k, maxIter: int(it), tol: tol, gram: make([]float64, k*k)}, nil
}

type karcherKernel struct {
	k       int
	maxIter int
	tol     float64
	gram    []float64 // x_i . x_j
	coef    []float64 // output = sum coef_i x_i
}

func (m *karcherKernel) ScanPasses() int { return 1 }

func (m *karcherKernel) Scan(_ int, b *Block) {
	gramScan(m.gram, m.k, b.Models, nil)
}

// gramScan adds the block's products of the models (minus base, when given) to g (k x k,
// upper triangle and diagonal).
func gramScan(g []float64, k int, models [][]float32, base []float32) {
	for i := 0; i < k; i++ {
		xi := models[i]
		for l := i; l < k; l++ {
			xl := models[l][:len(xi)]
			var acc float64
			if base == nil {
				for j, v := range xi {
					acc += float64(v) * float64(xl[j])
				}
			} else {
				bs := base[:len(xi)]
				for j, v := range xi {
					acc += float64(v-bs[j]) * float64(xl[j]-bs[j])
				}
			}
			g[i*k+l] += acc
		}
	}
}

// gramAt returns entry (i, l) of a matrix gramScan filled.
func gramAt(g []float64, k, i, l int) float64 {
	if i > l {
		i, l = l, i
	}
	return g[i*k+l]
}

func (m *karcherKernel) EndScan(int) {
	k := m.k
	m.coef = make([]float64, k)
	if k == 1 {
		m.coef[0] = 1
		return
	}
	norms := make([]float64, k)
	var valid []int
	for i := range norms {
		norms[i] = math.Sqrt(gramAt(m.gram, k, i, i))
		if norms[i] > m.tol {
			valid = append(valid, i)
		}
	}
	if len(valid) == 0 {
		return // all zero: the output is zero
	}
	alpha := 1 / float64(k)
	na := 1 / float64(len(valid)) // the valid models' weights, normalised
	// u . u' for units u_i = x_i / |x_i|; a direction is a coefficient vector c over the units.
	ug := func(i, l int) float64 { return gramAt(m.gram, k, i, l) / (norms[i] * norms[l]) }
	dot := func(c []float64, i int) float64 {
		var s float64
		for _, l := range valid {
			s += c[l] * ug(l, i)
		}
		return s
	}
	norm := func(c []float64) float64 {
		var s float64
		for _, i := range valid {
			s += c[i] * dot(c, i)
		}
		return math.Sqrt(math.Max(s, 0))
	}
	mean := make([]float64, k)
	for _, i := range valid {
		mean[i] = na
	}
	if mn := norm(mean); mn < m.tol {
		clear(mean)
		mean[valid[0]] = 1
	} else {
		for i := range mean {
			mean[i] /= mn
		}
	}
	tan := make([]float64, k)
	for range m.maxIter {
		clear(tan)
		for _, i := range valid {
			d := math.Max(-1, math.Min(1, dot(mean, i)))
			theta := math.Acos(d)
			if theta < m.tol {
				continue
			}
			f := na * theta / math.Sin(theta)
			tan[i] += f
			for l := range tan {
				tan[l] -= f * d * mean[l]
			}
		}
		tn := norm(tan)
		if tn < m.tol {
			break
		}
		c, s := math.Cos(tn), math.Sin(tn)/tn
		for l := range mean {
			mean[l] = c*mean[l] + s*tan[l]
		}
		if un := norm(mean); un > m.tol {
			for l := range mean {
				mean[l] /= un
			}
		}
	}
	var scale float64
	for i := range norms {
		scale += alpha * norms[i]
	}
	for _, i := range valid {
		m.coef[i] = scale * mean[i] / norms[i]
	}
}

func (m *karcherKernel) Merge(b *Block) {
	linearCombination(b.Out, m.coef, b.Models, nil, 0)
}

// linearCombination writes sum_i c_i x_i (+ cb * base when base is given) into out.
func linearCombination(out []float32, c []float64, models [][]float32, base []float32, cb float64) {
	for j := range out {
		var s float64
		for i, x := range models {
			s += c[i] * float64(x[j])
		}
		if base != nil {
			s += cb * float64(base[j])
		}
		out[j] = float32(s)
	}
}
