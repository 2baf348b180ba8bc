package merge

import (
	"fmt"
	"math"
)

// modelStock is Model Stock (Jang et al. 2024): the models' average pulled towards the base
// by a ratio computed from the mean pairwise cosine of their task vectors, per tensor.
type modelStock struct{}

func (modelStock) Info() MethodInfo {
	return MethodInfo{
		Name:      "model_stock",
		Summary:   "Model Stock: t*mean(models) + (1-t)*base, t = K cos / (1 + (K-1) cos) from the mean pairwise cosine of the task vectors",
		NeedsBase: true,
		MinModels: 2,
		Passes:    "1 (the pairwise cosines)",
	}
}

func (modelStock) NewKernel(ti TensorInfo, p *TensorParams) (Kernel, error) {
	if !ti.HasBase {
		return nil, fmt.Errorf("model_stock needs a base model")
	}
	if len(ti.Models) < 2 {
		return nil, fmt.Errorf("model_stock needs at least two models besides the base, got %d", len(ti.Models))
	}
	k := len(ti.Models)
	return &modelStockKernel{k: k, dots: make([]float64, k*k)}, nil
}

type modelStockKernel struct {
	k    int
	dots []float64 // dots[i*k+j], j >= i: sum d_i d_j over the tensor
	t    float64
	cos  float64
}

func (m *modelStockKernel) ScanPasses() int { return 1 }

// Scan adds the block's products d_i.d_l to the pair sums: one loop per pair with its own
// accumulator (element order, as before any chunking), so no sum waits on memory.
func (m *modelStockKernel) Scan(_ int, b *Block) {
	base := b.Base
	for i := 0; i < m.k; i++ {
		xi := b.Models[i][:len(base)]
		for l := i; l < m.k; l++ {
			xl := b.Models[l][:len(base)]
			var acc float64
			for j, bv := range base {
				acc += float64(xi[j]-bv) * float64(xl[j]-bv)
			}
			m.dots[i*m.k+l] += acc
		}
	}
}

func (m *modelStockKernel) EndScan(int) {
	var sum float64
	pairs := 0
	for i := 0; i < m.k; i++ {
		for l := i + 1; l < m.k; l++ {
			// As mergekit: the norm product is floored at 1e-6 and the cosine clamped.
			norm := math.Max(math.Sqrt(m.dots[i*m.k+i])*math.Sqrt(m.dots[l*m.k+l]), 1e-6)
			c := math.Max(-1, math.Min(1, m.dots[i*m.k+l]/norm))
			sum += c
			pairs++
		}
	}
	m.cos = sum / float64(pairs)
	den := 1 + float64(m.k-1)*m.cos
	if math.Abs(den) < 1e-12 {
		m.t = 0 // the task vectors cancel: keep the base
		return
	}
	m.t = float64(m.k) * m.cos / den
}

func (m *modelStockKernel) Note() string { return fmt.Sprintf("t=%.4g cos=%.4g", m.t, m.cos) }

func (m *modelStockKernel) Merge(b *Block) {
	kf := float64(m.k)
	for j, base := range b.Base {
		var s float64
		for i := 0; i < m.k; i++ {
			s += float64(b.Models[i][j])
		}
		mean := s / kf // a division, so K identical models average back exactly
		b.Out[j] = float32(float64(m.t*mean) + float64((1-m.t)*float64(base)))
	}
}
