package merge

// passthrough copies its one input per tensor, times scale: with slices it stacks layer
// ranges of several models (a "frankenmerge"); each tensor has exactly one source. Like
// mergekit's, it ignores base_model.
type passthrough struct{}

func (passthrough) Info() MethodInfo {
	return MethodInfo{
		Name:      "passthrough",
		Summary:   "copies the one source of each tensor, scaled (layer stacking with slices)",
		MinModels: 1,
		MaxModels: 1,
		Passes:    "0 (element-wise)",
		Params: []ParamSpec{
			{Name: "scale", PerModel: true, Kind: FloatParam, Default: 1, Doc: "factor the tensor is multiplied by"},
		},
	}
}

func (passthrough) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	return &scaleKernel{scale: float32(p.Models("scale")[0])}, nil
}

type scaleKernel struct {
	NoScan
	scale float32
}

// Merge multiplies in float32, as mergekit does (a scale of 1 copies exactly).
func (k *scaleKernel) Merge(b *Block) {
	x := b.Models[0][:len(b.Out)]
	for j, v := range x {
		b.Out[j] = v * k.scale
	}
}
