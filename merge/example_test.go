package merge_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ordermerge/ordermerge/merge"
	"github.com/ordermerge/ordermerge/tensor"
)

// model makes a one-tensor model, as a notebook cell would.
func model(vals ...float32) merge.Model {
	w, err := tensor.NewF32("w", []int{2, 4}, vals)
	if err != nil {
		panic(err)
	}
	return merge.Model{"w": w}
}

// Parameter-selection merging with resampling: every element comes from one of the two
// fine-tuned variants; where the drawn variant did not move from the base, another that did is
// taken; only where neither moved (element 3) the base value stays.
func ExampleMerge() {
	base := model(0, 0, 0, 0, 0, 0, 0, 0)
	a := model(1, 0, 1, 0, 1, 1, 1, 1)
	b := model(2, 2, 0, 0, 2, 2, 2, 2)
	merged, report, err := merge.Merge(context.Background(), merge.Options{
		Method: "parameter_selection",
		Base:   base,
		Models: []merge.Model{a, b},
		Names:  []string{"order-1", "order-2"},
		Seed:   1,
		Params: map[string]any{"resample": true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, _ := merged["w"].Float32()
	fmt.Println(v)
	fmt.Print(report)
	// Output:
	// [1 2 1 0 1 2 1 2]
	// parameter_selection merge of 2 models on base base: 1 tensors, 8 elements, 32 B, seed 1, base kept in 12.5% of elements
	// model    taken  equal to base  L2 distance to result
	// order-1  50.0%  25.0%          2.449
	// order-2  37.5%  25.0%          2
}

// The baselines take the same options: here a weighted average and TIES.
func ExampleMerge_baselines() {
	base := model(0, 0, 0, 0, 0, 0, 0, 0)
	a := model(1, 2, 3, 4, -1, -2, -3, -4)
	b := model(3, 2, 1, 0, 1, 2, 3, 4)
	for _, opt := range []merge.Options{
		{Method: "linear", Models: []merge.Model{a, b}, Weights: []float64{3, 1}},
		{Method: "ties", Base: base, Models: []merge.Model{a, b}, Densities: []float64{0.5, 0.5}},
	} {
		merged, _, err := merge.Merge(context.Background(), opt)
		if err != nil {
			fmt.Println(err)
			return
		}
		v, _ := merged["w"].Float32()
		fmt.Println(opt.Method, v)
	}
	// Output:
	// linear [1.5 2 2.5 3 -0.5 -1 -1.5 -2]
	// ties [3 2 3 4 0 0 3 4]
}

// A report renders itself in a notebook as HTML or Markdown.
func ExampleReport_Markdown() {
	_, report, _ := merge.Merge(context.Background(), merge.Options{
		Method: "linear",
		Models: []merge.Model{model(1, 1, 1, 1, 1, 1, 1, 1), model(3, 3, 3, 3, 3, 3, 3, 3)},
	})
	fmt.Print(report.Markdown())
	fmt.Println(strings.HasPrefix(report.HTML(), `<div class="ordermerge-merge-report">`))
	// Output:
	// **linear merge of 2 models: 1 tensors, 8 elements, 32 B**
	//
	// | model | L2 distance to result |
	// |---|---|
	// | model1 | 2.828 |
	// | model2 | 2.828 |
	//
	// | tensor | shape | model1 dist | model2 dist | note |
	// |---|---|---|---|---|
	// | w | [2 4] | 2.828 | 2.828 |  |
	// true
}

// Methods lists what can be merged and with which parameters.
func ExampleMethods() {
	for _, m := range merge.Methods() {
		var params []string
		for _, p := range m.Params {
			params = append(params, p.Name)
		}
		fmt.Printf("%s (needs base: %v) [%s]\n", m.Name, m.NeedsBase, strings.Join(params, ", "))
	}
	// Output:
	// arcee_fusion (needs base: true) []
	// breadcrumbs (needs base: true) [weight, density, gamma, lambda, normalize, int8_mask, rescale]
	// breadcrumbs_ties (needs base: true) [weight, density, gamma, lambda, normalize, int8_mask, rescale]
	// dare_linear (needs base: true) [weight, density, lambda, normalize, int8_mask, rescale, rescale_mode]
	// dare_ties (needs base: true) [weight, density, lambda, normalize, int8_mask, rescale, rescale_mode]
	// della (needs base: true) [weight, density, epsilon, lambda, normalize, int8_mask, rescale]
	// della_linear (needs base: true) [weight, density, epsilon, lambda, normalize, int8_mask, rescale]
	// karcher (needs base: false) [max_iter, tol]
	// linear (needs base: false) [weight, normalize, include_base]
	// model_stock (needs base: true) [filter_wise]
	// multislerp (needs base: false) [weight, normalize_weights, eps]
	// nearswap (needs base: true) [t]
	// nuslerp (needs base: false) [weight, nuslerp_flatten, nuslerp_row_wise]
	// parameter_selection (needs base: false) [weight, resample, resample_n, granularity]
	// passthrough (needs base: false) [scale]
	// ram (needs base: true) [epsilon]
	// ramplus_tl (needs base: true) [epsilon, r, alpha]
	// sce (needs base: true) [select_topk, int8_mask]
	// slerp (needs base: false) [t]
	// task_arithmetic (needs base: true) [weight, lambda, normalize, int8_mask]
	// ties (needs base: true) [weight, density, lambda, normalize, int8_mask]
}

// Run streams a merge of checkpoint folders described by a mergekit-style config.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "merge-example")
	defer os.RemoveAll(dir)
	for i, vals := range [][]float32{{1, 2, 3, 4, 5, 6, 7, 8}, {3, 4, 5, 6, 7, 8, 9, 10}} {
		w, _ := tensor.NewF32("w", []int{2, 4}, vals)
		path := filepath.Join(dir, fmt.Sprintf("variant%d", i+1))
		if err := tensor.SaveCheckpoint(path, nil, []*tensor.Tensor{w}, tensor.CheckpointOptions{}); err != nil {
			fmt.Println(err)
			return
		}
	}
	cfg, err := merge.ParseConfig([]byte(`
merge_method: linear
models:
  - model: `+filepath.Join(dir, "variant1")+`
  - model: `+filepath.Join(dir, "variant2")+`
    parameters:
      weight: 3
out_dtype: bfloat16
`), "merge.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	report, err := merge.Run(context.Background(), cfg, merge.RunOptions{Out: filepath.Join(dir, "merged")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(report)
	merged, _ := tensor.OpenCheckpoint(filepath.Join(dir, "merged"))
	defer merged.Close()
	v, _, _ := merged.ReadFloat32("w")
	fmt.Println(v)
	// Output:
	// linear merge of 2 models: 1 tensors, 8 elements, 16 B
	// model     L2 distance to result
	// variant1  4.243
	// variant2  1.414
	// [2.5 3.5 4.5 5.5 6.5 7.5 8.5 9.5]
}
