package merge

import (
	"fmt"
	"math"

	"github.com/ordermerge/ordermerge/merge/internal/vec"
)

// modelStock is Model Stock (Jang et al. 2024): the models' average pulled towards the base
// by a ratio computed from the mean pairwise cosine of their task vectors, per tensor, or with
// filter_wise per row (along the last dimension; a 1-D tensor is one row), as mergekit does.
type modelStock struct{}

func (modelStock) Info() MethodInfo {
	return MethodInfo{
		Name:      "model_stock",
		Summary:   "Model Stock: t*mean(models) + (1-t)*base, t = K cos / (1 + (K-1) cos) from the mean pairwise cosine of the task vectors",
		NeedsBase: true,
		MinModels: 2,
		Passes:    "1 (the pairwise cosines)",
		Params: []ParamSpec{
			{Name: "filter_wise", Kind: BoolParam, Fixed: true, Doc: "one ratio per row (along the last dimension) instead of per tensor"},
		},
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
	rowLen := ti.Numel
	if p.Bool("filter_wise") && len(ti.Shape) >= 2 {
		rowLen = max(1, ti.Shape[len(ti.Shape)-1])
	}
	rows := 1
	if rowLen > 0 {
		rows = max(1, ti.Numel/rowLen)
	}
	return &modelStockKernel{k: k, rowLen: max(rowLen, 1), rows: rows, dots: make([]float64, rows*k*k)}, nil
}

type modelStockKernel struct {
	k      int
	rowLen int
	rows   int
	dots   []float64 // per row r: dots[r*k*k + i*k+j], j >= i: sum d_i d_j over the row
	t      []float64 // per row
	cos    float64   // the first row's, for the note
	acc    []float64 // Merge's sums of the models
}

func (m *modelStockKernel) ScanPasses() int { return 1 }

// Scan adds the block's products d_i.d_l to the pair sums: one sum per pair and row run,
// split four ways (vec.DotTask) so that no addition waits on the one before.
func (m *modelStockKernel) Scan(_ int, b *Block) {
	n := len(b.Base)
	kk := m.k * m.k
	for s := 0; s < n; {
		r := (b.Offset + s) / m.rowLen
		e := min(n, (r+1)*m.rowLen-b.Offset)
		base := b.Base[s:e]
		dots := m.dots[r*kk : (r+1)*kk]
		for i := 0; i < m.k; i++ {
			xi := b.Models[i][s:e]
			for l := i; l < m.k; l++ {
				dots[i*m.k+l] += vec.DotTask(xi, b.Models[l][s:e], base)
			}
		}
		s = e
	}
}

func (m *modelStockKernel) EndScan(int) {
	m.t = make([]float64, m.rows)
	kk := m.k * m.k
	for r := range m.t {
		dots := m.dots[r*kk : (r+1)*kk]
		var sum float64
		pairs := 0
		for i := 0; i < m.k; i++ {
			for l := i + 1; l < m.k; l++ {
				// As mergekit: the norm product is floored at 1e-6 and the cosine clamped.
				norm := math.Max(math.Sqrt(dots[i*m.k+i])*math.Sqrt(dots[l*m.k+l]), 1e-6)
				sum += math.Max(-1, math.Min(1, dots[i*m.k+l]/norm))
				pairs++
			}
		}
		cos := sum / float64(pairs)
		if r == 0 {
			m.cos = cos
		}
		den := 1 + float64(m.k-1)*cos
		if math.Abs(den) < 1e-12 {
			continue // the task vectors cancel: keep the base
		}
		m.t[r] = float64(m.k) * cos / den
	}
	m.dots = nil
}

func (m *modelStockKernel) Note() string {
	if m.rows > 1 {
		return fmt.Sprintf("filter-wise: %d rows, row 0 t=%.4g cos=%.4g", m.rows, m.t[0], m.cos)
	}
	return fmt.Sprintf("t=%.4g cos=%.4g", m.t[0], m.cos)
}

// Merge sums the models in float64 per run of a row (t is the row's), in model order from
// +0, and divides by K, so K identical models average back exactly.
func (m *modelStockKernel) Merge(b *Block) {
	if m.acc == nil {
		m.acc = make([]float64, gtaSub)
	}
	kf := float64(m.k)
	n := len(b.Out)
	for s := 0; s < n; {
		r := (b.Offset + s) / m.rowLen
		e := min(n, (r+1)*m.rowLen-b.Offset, s+len(m.acc))
		acc := m.acc[:e-s]
		clear(acc)
		for i := 0; i < m.k; i++ {
			vec.AddMul(acc, 1, b.Models[i][s:e])
		}
		vec.Blend(b.Out[s:e], b.Base[s:e], acc, kf, m.t[r])
		s = e
	}
}
