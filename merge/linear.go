package merge

// linear is the weighted average: sum w_i x_i, divided by sum w_i when normalize is set.
type linear struct{}

func (linear) Info() MethodInfo {
	return MethodInfo{
		Name:      "linear",
		Summary:   "weighted average of the models (the paper's baseline)",
		MinModels: 1,
		Passes:    "0 (element-wise)",
		Params: []ParamSpec{
			weightParam("weight of the model in the average"),
			normalizeParam(true, "divide by the sum of the weights"),
		},
	}
}

func (linear) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	sum, err := checkWeightsSum(p, "weight", false)
	if err != nil {
		return nil, err
	}
	normalize := p.Bool("normalize")
	if normalize && sum == 0 {
		return nil, p.modelErrorf("weight", 0, "the weights sum to 0, so they cannot be normalised")
	}
	scale := 1.0
	if normalize {
		scale = 1 / sum
	}
	return &linearKernel{w: p.Models("weight"), scale: scale}, nil
}

type linearKernel struct {
	NoScan
	w     []float64
	scale float64 // 1/sum(w) with normalize, else 1
}

// Merge accumulates in float64 and scales by the float64 reciprocal of the weight sum: the
// result is within a few 2^-53 of the exact weighted mean, so K identical models (or any
// weights) round back to exactly the model in float32.
func (k *linearKernel) Merge(b *Block) {
	out := b.Out
	m0, w0 := b.Models[0][:len(out)], k.w[0]
	for j := range out {
		s := w0 * float64(m0[j])
		for i := 1; i < len(b.Models); i++ {
			s += k.w[i] * float64(b.Models[i][j])
		}
		out[j] = float32(s * k.scale)
	}
}
