package merge

import "math"

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
}

func (k *ramKernel) ScanPasses() int {
	if k.plus {
		return 1
	}
	return 0
}

func (k *ramKernel) Scan(_ int, b *Block) {
	for j, bv := range b.Base {
		c := 0
		for _, x := range b.Models {
			c += int(b2i(float32(math.Abs(float64(x[j]-bv))) > k.eps))
		}
		for i, x := range b.Models {
			if float32(math.Abs(float64(x[j]-bv))) > k.eps {
				if c == 1 {
					k.unique[i]++
				} else {
					k.shared[i]++
				}
			}
		}
	}
}

func (k *ramKernel) EndScan(int) {
	for i := range k.lambda {
		rho := float64(k.shared[i]) / math.Max(float64(k.unique[i]), k.epsF)
		k.lambda[i] = 1 + k.r*math.Max(0, math.Min(k.alpha, rho))
	}
}

// Merge is branch-free: on real task vectors whether an element counts is a coin flip. A
// skipped term adds +0, which leaves the sum unchanged (it starts at +0 and so is never -0),
// and the quotient for c = 0 is the sum itself, as without the masks.
func (k *ramKernel) Merge(b *Block) {
	eps := k.eps
	for j, bv := range b.Base {
		var sum float64
		c, last := int64(0), int64(0)
		for i, x := range b.Models {
			d := x[j] - bv
			on := b2i(abs32(d) > eps)
			sum += math.Float64frombits(math.Float64bits(float64(d)) & -uint64(on))
			c += on
			last += on * (int64(i) - last)
		}
		q := sum / float64(max(c, 1))
		p := sum * k.lambda[last]
		one := -uint64(b2i(c == 1))
		sum = math.Float64frombits(math.Float64bits(p)&one | math.Float64bits(q)&^one)
		b.Out[j] = float32(float64(bv) + sum)
	}
}

// abs32 is |x| for float32 (NaN stays NaN).
func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
