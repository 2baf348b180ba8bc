package merge

import (
	"math"

	"github.com/ordermerge/ordermerge/merge/internal/vec"
)

// ram and ramplus_tl are mergekit's Reinforced Agent Merging (arXiv 2601.13572): per element,
// the task vectors whose magnitude exceeds epsilon contribute; where only one model does, its
// task vector is taken whole (ramplus_tl scales it by 1 + r * clamp(rho_i, 0, alpha), with
// rho_i the model's count of shared elements over its count of unique ones in the tensor);
// where several do, their mean; the result is added to the base.
type ram struct{ plus bool }

func (m ram) Info() MethodInfo {
	info := MethodInfo{
		Name:      "ram",
		Summary:   "RAM: per element, a task vector alone is taken whole, overlapping ones are averaged",
		NeedsBase: true,
		MinModels: 1,
		Passes:    "0 (element-wise)",
		Params: []ParamSpec{
			{Name: "epsilon", Kind: FloatParam, Default: 1e-5, Doc: "magnitude above which a task-vector element counts"},
		},
	}
	if m.plus {
		info.Name = "ramplus_tl"
		info.Summary = "RAM+ (tensor-local): RAM with the unique elements of each model rescaled by its share of overlaps"
		info.Passes = "1 (each model's shared and unique counts)"
		info.Params = append(info.Params,
			ParamSpec{Name: "r", Kind: FloatParam, Default: 0.1, Doc: "strength of the rescaling"},
			ParamSpec{Name: "alpha", Kind: FloatParam, Default: 0.2, Doc: "cap on the shared/unique ratio"})
	}
	return info
}

func (m ram) NewKernel(ti TensorInfo, p *TensorParams) (Kernel, error) {
	if !ti.HasBase {
		return nil, p.errorf("epsilon", "%s needs a base model", m.Info().Name)
	}
	k := &ramKernel{eps: float32(p.Float("epsilon")), plus: m.plus, lambda: make([]float64, len(ti.Models))}
	for i := range k.lambda {
		k.lambda[i] = 1
	}
	if m.plus {
		k.r, k.alpha, k.epsF = p.Float("r"), p.Float("alpha"), p.Float("epsilon")
		k.shared, k.unique = make([]int64, len(ti.Models)), make([]int64, len(ti.Models))
	}
	return k, nil
}

type ramKernel struct {
	eps            float32
	epsF           float64
	plus           bool
	r, alpha       float64
	shared, unique []int64
	lambda         []float64
	// Merge's per-element state for one run: sums, counts, the last counted model's weight
	sum, cnt, lam []float64
}

func (k *ramKernel) ScanPasses() int {
	if k.plus {
		return 1
	}
	return 0
}

// Scan counts, per model, its elements above epsilon that no other model has (unique) and
// those another model has too (shared); branch-free, as whether an element counts is a coin
// flip.
func (k *ramKernel) Scan(_ int, b *Block) {
	for j, bv := range b.Base {
		var c int64
		for _, x := range b.Models {
			c += b2i(abs32(x[j]-bv) > k.eps)
		}
		alone := b2i(c == 1)
		for i, x := range b.Models {
			on := b2i(abs32(x[j]-bv) > k.eps)
			k.unique[i] += on & alone
			k.shared[i] += on &^ alone
		}
	}
}

func (k *ramKernel) EndScan(int) {
	for i := range k.lambda {
		rho := float64(k.shared[i]) / math.Max(float64(k.unique[i]), k.epsF)
		k.lambda[i] = 1 + k.r*math.Max(0, math.Min(k.alpha, rho))
	}
}

// Merge works on runs of gtaSub elements, a loop per model (vec.RAMAdd): per element the sum
// of the task-vector elements above epsilon, their count, and the weight of the last one.
// A skipped term adds +0, which leaves the sum unchanged (it starts at +0 and so is never -0).
func (k *ramKernel) Merge(b *Block) {
	if k.sum == nil {
		k.sum, k.cnt, k.lam = make([]float64, gtaSub), make([]float64, gtaSub), make([]float64, gtaSub)
	}
	n := len(b.Out)
	for s0 := 0; s0 < n; s0 += gtaSub {
		m := min(gtaSub, n-s0)
		sum, cnt, lam := k.sum[:m], k.cnt[:m], k.lam[:m]
		clear(sum)
		clear(cnt)
		base := b.Base[s0 : s0+m]
		for i, x := range b.Models {
			vec.RAMAdd(sum, cnt, lam, x[s0:s0+m], base, k.eps, k.lambda[i])
		}
		vec.RAMFinish(b.Out[s0:s0+m], base, sum, cnt, lam)
	}
}

// abs32 is |x| for float32 (NaN stays NaN).
func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
