package merge

import (
	"github.com/ordermerge/ordermerge/merge/internal/vec"
	"github.com/ordermerge/ordermerge/tensor"
)

// linear is the weighted average: sum w_i x_i, divided by sum w_i when normalize is set. With
// a base model, the base is one more input with its own weight, as in mergekit (0.1.4): the
// weight written under the models entry that names the base, else the top-level weight, else
// 1. include_base false (an ordermerge option) leaves the base out, the rule before issue 14.
type linear struct{}

func (linear) Info() MethodInfo {
	return MethodInfo{
		Name:      "linear",
		Summary:   "weighted average of the models, and of the base when there is one (the paper's baseline without a base)",
		MinModels: 1,
		Passes:    "0 (element-wise)",
		Params: []ParamSpec{
			weightParam("weight of the model in the average"),
			normalizeParam(true, "divide by the sum of the weights"),
			{Name: "include_base", Kind: BoolParam, Default: 1, Fixed: true,
				Doc: "average the base in with its weight, as mergekit does; false leaves it out (ordermerge before issue 14)"},
		},
	}
}

func (linear) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	sum, err := checkWeightsSum(p, "weight", false)
	if err != nil {
		return nil, err
	}
	w := append([]float64(nil), p.Models("weight")...)
	withBase := t.HasBase && p.Bool("include_base")
	if withBase {
		w = append(w, p.Base("weight"))
		sum += p.Base("weight")
	}
	normalize := p.Bool("normalize")
	if normalize && sum == 0 {
		return nil, p.modelErrorf("weight", 0, "the weights sum to 0, so they cannot be normalised")
	}
	scale := 1.0
	if normalize {
		scale = 1 / sum
	}
	k := &linearKernel{w: w, scale: scale, withBase: withBase}
	if reduced(t.Compute) {
		return &linearReduced{linearKernel: k, dt: t.Compute, normalize: normalize}, nil
	}
	return k, nil
}

// linearReduced is linear in a 16-bit compute dtype, as mergekit's torch code runs it: the
// weights are rounded to it, each product is rounded, the products are summed in float32 and
// rounded, and so are the weights' sum and the quotient.
type linearReduced struct {
	*linearKernel
	dt        tensor.DType
	normalize bool
}

func (k *linearReduced) Merge(b *Block) {
	w := make([]float32, len(k.w))
	var ws float32
	for i, x := range k.w {
		w[i] = RoundTo(k.dt, float32(x))
		ws += w[i]
	}
	ws = RoundTo(k.dt, ws)
	k1 := len(b.Models)
	for j := range b.Out {
		var s float32
		for i := 0; i < k1; i++ {
			s += RoundTo(k.dt, w[i]*RoundTo(k.dt, b.Models[i][j]))
		}
		if k.withBase {
			s += RoundTo(k.dt, w[k1]*RoundTo(k.dt, b.Base[j]))
		}
		s = RoundTo(k.dt, s)
		if k.normalize {
			s = RoundTo(k.dt, s/ws)
		}
		b.Out[j] = s
	}
}

type linearKernel struct {
	NoScan
	w        []float64 // the models', then the base's when withBase
	scale    float64   // 1/sum(w) with normalize, else 1
	withBase bool
}

// Merge accumulates in float64 and scales by the float64 reciprocal of the weight sum: the
// result is within a few 2^-53 of the exact weighted mean, so K identical models (or any
// weights) round back to exactly the model in float32. It runs model by model over short
// runs of elements (one contiguous loop per input instead of K slice lookups per element);
// each element still sums the same products in the same order.
func (k *linearKernel) Merge(b *Block) {
	out := b.Out
	k1 := len(b.Models)
	var acc [1024]float64 // on the stack: blocks of one tensor may merge concurrently
	for lo := 0; lo < len(out); lo += len(acc) {
		hi := min(lo+len(acc), len(out))
		a := acc[:hi-lo]
		vec.MulTo(a, k.w[0], b.Models[0][lo:hi])
		for i := 1; i < k1; i++ {
			vec.AddMul(a, k.w[i], b.Models[i][lo:hi])
		}
		if k.withBase {
			vec.AddMul(a, k.w[k1], b.Base[lo:hi])
		}
		vec.Narrow(out[lo:hi], a, k.scale)
	}
}
