package merge_test

import (
	"fmt"

	"github.com/ordermerge/ordermerge/merge"
)

// A mergekit file of two merges, as community model cards publish them: a SLERP of two
// fine-tunes over slices of their layers (mergekit's gradient-slerp recipe), then a LoRA
// adapter's model averaged with it. RunAll runs them in order; the second refers to the first
// by name.
func ExampleParseConfigs() {
	cfgs, err := merge.ParseConfigs([]byte(`
name: smooth
merge_method: slerp
base_model: models/base
slices:
  - sources:
      - {model: models/base, layer_range: [0, 4]}
      - {model: models/chat, layer_range: [0, 4]}
parameters:
  t:
    - {filter: self_attn, value: [0, 0.5, 0.3, 0.7, 1]}
    - {filter: mlp, value: [1, 0.5, 0.7, 0.3, 0]}
    - value: 0.5
---
merge_method: linear
models:
  - model: smooth
  - model: models/base+adapters/math
tokenizer_source: base
chat_template: chatml
`), "recipe.yml")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range cfgs {
		fmt.Printf("%q: %s, %d models, %d slices, tokenizer %q\n", c.Name, c.Method, len(c.Models), len(c.Slices), c.TokenizerSource)
	}
	fmt.Println(cfgs[0].Slices[0].Sources[1].Path, cfgs[0].Slices[0].Sources[1].LayerRange)
	// Output:
	// "smooth": slerp, 0 models, 1 slices, tokenizer ""
	// "": linear, 2 models, 0 slices, tokenizer "base"
	// models/chat [0 4]
}
