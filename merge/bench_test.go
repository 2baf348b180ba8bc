package merge

import (
	"context"
	"fmt"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

// BenchmarkMerge measures the in-memory merge of 3 models plus a base (4M elements in 8
// tensors), per method and dtype; bytes/s counts the three models' bytes plus the output's.
// The streaming throughput against the I/O bound is measured by bench/merge.
func BenchmarkMerge(b *testing.B) {
	shapes := make([]tensorShape, 8)
	for i := range shapes {
		shapes[i] = tensorShape{fmt.Sprintf("model.layers.%d.mlp.up_proj.weight", i), []int{512, 1024}}
	}
	for _, dt := range []tensor.DType{tensor.BF16, tensor.F32} {
		base, models := family(b, 1, shapes, dt, 3, 0.5)
		for _, tc := range []struct {
			method string
			params map[string]any
		}{
			{"linear", nil},
			{"parameter_selection", nil},
			{"parameter_selection", map[string]any{"resample": true}},
			{"ties", nil},
			{"dare_ties", nil},
			{"della", nil},
		} {
			name := tc.method
			if tc.params != nil {
				name += "+resample"
			}
			b.Run(fmt.Sprintf("%s/%s", dt, name), func(b *testing.B) {
				opt := Options{Method: tc.method, Models: models, Params: tc.params, Base: base}
				if tc.method == "ties" || tc.method == "dare_ties" || tc.method == "della" {
					opt.Densities = []float64{0.5, 0.5, 0.5}
				}
				b.SetBytes(int64(4 * 8 * 512 * 1024 * dt.Size()))
				for b.Loop() {
					if _, _, err := Merge(context.Background(), opt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
