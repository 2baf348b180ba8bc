package merge_test

import (
	"context"
	"fmt"
	"math"

	"github.com/ordermerge/ordermerge/merge"
)

// maxAbs is a researcher's merge method: per element, the task vector of largest magnitude
// wins, scaled by a parameter. A package exports such a type; a notebook cell can declare the
// same one (the kernel's interpreter runs it).
type maxAbs struct{}

func (maxAbs) Info() merge.MethodInfo {
	return merge.MethodInfo{
		Name:      "max_abs",
		Summary:   "base + scale * the task vector of largest magnitude, per element",
		NeedsBase: true,
		MinModels: 1,
		Passes:    "0",
		Params: []merge.ParamSpec{
			{Name: "scale", Kind: merge.FloatParam, Default: 1, Doc: "factor on the winning task vector"},
		},
	}
}

// NewKernel runs for every tensor before any data is read: it checks the parameters.
func (maxAbs) NewKernel(t merge.TensorInfo, p *merge.TensorParams) (merge.Kernel, error) {
	s := p.Float("scale")
	if s < 0 {
		return nil, fmt.Errorf("scale = %v must not be negative", s)
	}
	return maxAbsKernel{scale: s}, nil
}

type maxAbsKernel struct {
	merge.NoScan // element-wise: no statistics pass
	scale        float64
}

// Merge fills one block of the output; the engine streams the tensor through in blocks.
func (k maxAbsKernel) Merge(b *merge.Block) {
	for j, base := range b.Base {
		var best float32
		for _, m := range b.Models {
			if d := m[j] - base; math.Abs(float64(d)) > math.Abs(float64(best)) {
				best = d
			}
		}
		b.Out[j] = float32(float64(base) + k.scale*float64(best))
	}
}

// A new merge method, registered and used like a built-in one: in memory, and from a
// mergekit-style config (which Run streams from disk under the memory budget).
func ExampleRegistry_Register() {
	r := merge.NewRegistry()
	if err := r.Register(maxAbs{}); err != nil {
		fmt.Println(err)
		return
	}
	base := model(0, 0, 0, 0, 0, 0, 0, 0)
	a := model(1, -3, 0, 2, 1, 1, 1, 1)
	b := model(-2, 1, 0, 1, 0, 3, -1, 0)
	merged, _, err := merge.Merge(context.Background(), merge.Options{
		Registry: r, Method: "max_abs", Base: base, Models: []merge.Model{a, b},
		Params: map[string]any{"scale": 0.5},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, _ := merged["w"].Float32()
	fmt.Println(v)

	cfg, err := r.ParseConfig([]byte("merge_method: max_abs\nbase_model: base\nmodels:\n  - model: a\n  - model: b\nparameters:\n  scale: 2\n"), "maxabs.yml")
	fmt.Println(cfg.Method, cfg.Params["scale"], err)
	_, err = merge.ParseConfig([]byte("merge_method: max_abs\nmodels: [a]\n"), "other.yml")
	fmt.Println(err != nil) // the built-in registry does not know it
	// Output:
	// [-1 -1.5 0 1 0.5 1.5 0.5 0.5]
	// max_abs 2 <nil>
	// true
}
