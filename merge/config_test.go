package merge

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

const tiesYAML = `# a mergekit config
merge_method: ties
base_model: BASE
models:
  - model: BASE
  - model: A
    parameters:
      weight: 1.0
      density: [1, 0.7, 0.1]
  - model: B
    parameters:
      weight:
        - filter: mlp
          value: 0.5
        - value: 1
      density: 0.5
parameters:
  normalize: true
  lambda: 1.0
  int8_mask: true
dtype: bfloat16
`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(tiesYAML), "merge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Method != "ties" || c.Base != "BASE" || len(c.Models) != 3 || c.DType != "bfloat16" {
		t.Fatalf("%+v", c)
	}
	if c.Models[1].Path != "A" || c.Models[2].Path != "B" {
		t.Fatalf("models %+v", c.Models)
	}
	dt, err := c.outDType()
	if err != nil || dt != tensor.BF16 {
		t.Fatalf("out dtype %v %v", dt, err)
	}
	// Resolution: the base entry is dropped; model A's density is a gradient over 5 layers,
	// model B's weight a filter list.
	info, _ := LookupMethod("ties")
	s, err := c.settings(info, []int{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{1, 0.85, 0.7, 0.4, 0.1} {
		name := fmt.Sprintf("model.layers.%d.self_attn.q_proj.weight", i)
		p, err := s.resolve(info.Params, name, layerT(name, 5, false), []int{0, 1})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Models("density")[0]; math.Abs(got-want) > 1e-12 {
			t.Errorf("layer %d density %v, want %v", i, got, want)
		}
		if p.Models("density")[1] != 0.5 || p.Models("weight")[1] != 1 || p.Float("lambda") != 1 || !p.Bool("normalize") {
			t.Errorf("layer %d: %+v", i, p)
		}
	}
	p, _ := s.resolve(info.Params, "model.layers.3.mlp.up_proj.weight", layerT("model.layers.3.mlp.up_proj.weight", 5, false), []int{0, 1})
	if p.Models("weight")[1] != 0.5 {
		t.Errorf("filter mlp: weight %v", p.Models("weight")[1])
	}
	// Every tensor outside the layers sits at t=0 (mergekit since fd5eb19, 2025-03).
	for name, want := range map[string]float64{"model.embed_tokens.weight": 1, "lm_head.weight": 1, "model.norm.weight": 1} {
		p, _ := s.resolve(info.Params, name, layerT(name, 5, false), []int{0, 1})
		if got := p.Models("density")[0]; math.Abs(got-want) > 1e-12 {
			t.Errorf("%s density %v, want %v", name, got, want)
		}
	}
}

func TestFilterFallsBackToTopLevel(t *testing.T) {
	c, err := ParseConfig([]byte(`
merge_method: linear
models:
  - model: A
    parameters:
      weight:
        - filter: attn
          value: 3
  - model: B
parameters:
  weight: 2
`), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := LookupMethod("linear")
	s, err := c.settings(info, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.resolve(info.Params, "model.layers.0.self_attn.q_proj.weight", 0, []int{0, 1})
	if w := p.Models("weight"); w[0] != 3 || w[1] != 2 {
		t.Errorf("attn weights %v, want [3 2]", w)
	}
	p, _ = s.resolve(info.Params, "model.layers.0.mlp.up_proj.weight", 0, []int{0, 1})
	if w := p.Models("weight"); w[0] != 2 || w[1] != 2 {
		t.Errorf("mlp weights %v, want [2 2] (no filter matches: top-level value)", w)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		yaml, want string
	}{
		{"merge_methd: ties\nmodels: [A]\n", "c.yaml:1:1: merge_methd: unknown key (known: base_model, chat_template, dtype, merge_method, models, name, ordermerge_compat, out_dtype, parameters, slices, tokenizer, tokenizer_source)"},
		{"merge_method: ties\nmodels:\n  - model: A\n    parameters:\n      wieght: 1\n", "c.yaml:5:7: models[0].parameters.wieght: unknown parameter for ties (known: density, int8_mask, lambda, normalize, weight)"},
		{"merge_method: ties\nmodels:\n  - model: A\n    paramters: {}\n", "c.yaml:4:5: models[0].paramters: unknown key (a model entry has model and parameters)"},
		{"merge_method: magic\nmodels: [A]\n", "c.yaml:1:15: merge_method: unknown merge method \"magic\""},
		{"merge_method: linear\nmodels: [A]\nparameters:\n  seed: 3\n", "c.yaml:4:3: parameters.seed: linear is not randomised, so it takes no seed"},
		{"merge_method: parameter_selection\nmodels: [A]\nparameters:\n  seed: -3\n", "c.yaml:4:9: parameters.seed: seed must be a non-negative integer"},
		{"merge_method: parameter_selection\nmodels:\n  - model: A\n    parameters:\n      resample: true\n", "c.yaml:5:7: models[0].parameters.resample: resample applies to the whole merge"},
		{"merge_method: parameter_selection\nmodels: [A]\nparameters:\n  granularity: [row]\n", "c.yaml:4:16: parameters.granularity: a whole-merge parameter takes a single value, not a list"},
		{"merge_method: parameter_selection\nmodels: [A]\nparameters:\n  granularity: column\n", `c.yaml:4:16: parameters.granularity: "column" is not one of element, row, tensor`},
		{"merge_method: ties\nmodels: [A]\nparameters:\n  lambda: [1, x]\n", "c.yaml:4:11: parameters.lambda: gradient entry 1 is x, not a number"},
		{"merge_method: ties\nmodels: [A]\nparameters:\n  normalize: maybe\n", `c.yaml:4:14: parameters.normalize: expected true or false, got "maybe"`},
		{"merge_method: ties\nmodels: [A]\nparameters:\n  lambda:\n    - filter: mlp\n      valu: 2\n", `parameters.lambda: entry 0: unknown key "valu"`},
		{"merge_method: ties\nmodules: {}\nmodels: [A]\n", "c.yaml:2:1: modules: modules (multi-module architectures) are not supported"},
		{"merge_method: ties\nslices: []\n", "c.yaml:2:9: slices: must be a list of {sources: [...]}"},
		{"merge_method: ties\nslices:\n  - sources: [{model: A, layer_range: [0, 2]}]\nmodels: [A]\n", "a config has models or slices, not both"},
		{"merge_method: ties\nslices:\n  - sources: [{model: A}]\n", "c.yaml:3:15: slices[0].sources[0]: needs model and layer_range"},
		{"merge_method: ties\nslices:\n  - sources: [{model: A, layer_range: [2, 1]}]\n", "slices[0].sources[0].layer_range: must be [FROM, TO] with 0 <= FROM < TO"},
		{"merge_method: ties\nslices:\n  - sources: [{model: A, layer_range: [0, 1]}]\n    residual_weight: 0.5\n", "c.yaml:4:5: slices[0].residual_weight: a per-slice residual_weight is not supported"},
		{"merge_method: linear\nmodels: [A]\ntokenizer:\n  source: union\n  tokens:\n    x: {source: {kind: model_token, model: A}}\n", `c.yaml:6:17: tokenizer.tokens.x.source: must be a model, {kind: zero}, or {kind: model_token, model, and one of token, token_id}`},
		{"merge_method: linear\nmodels: [A]\ntokenizer:\n  tokens:\n    x: {sorce: A}\n", `c.yaml:5:9: tokenizer.tokens.x.sorce: unknown key (a token rule has source and force)`},
		{"merge_method: linear\nmodels: [A]\ntokenizer: {source: base}\ntokenizer_source: base\n", "tokenizer: a config has tokenizer or tokenizer_source, not both"},
		{"merge_method: linear\nmodels: [A]\nordermerge_compat: old\n", `ordermerge_compat: "old" is not a known behaviour (known: mergekit-pre-2025-03)`},
		{"merge_method: linear\nmodels: [A]\n---\nmerge_method: linear\nmodels: [B]\n", "document 2: more than one merge has no name"},
		{"merge_method: ties\nmodels: [A]\nmodels: [B]\n", "c.yaml:3:1: models: set twice"},
		{"merge_method: ties\nmodels: [A]\ndtype: I32\n", "c.yaml:3:8: dtype: dtype I32: merged tensors can be F32, F16 or BF16"},
		{"merge_method: ties\nmodels: [A]\ndtype: int8\n", `c.yaml:3:8: dtype: unknown dtype "int8"`},
		{"merge_method: ties\n", "c.yaml: models (or slices) is missing or empty"},
		{"models: [A]\n", "c.yaml: merge_method is missing"},
		{"merge_method: [ties\n", "c.yaml: yaml:"},
	} {
		_, err := ParseConfig([]byte(tc.yaml), "c.yaml")
		if err == nil {
			t.Errorf("%q: parsed, want error %q", tc.yaml, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q:\n got %q\nwant %q", tc.yaml, err, tc.want)
		}
	}
}

// TestRunFromYAML merges checkpoints named in a YAML file and compares with the in-memory merge
// given the same parameters in code.
func TestRunFromYAML(t *testing.T) {
	dir := t.TempDir()
	base, models := family(t, 80, llamaLike, tensor.F32, 2, 0.5)
	b, ms := writeHFFamily(t, dir, base, models, 0)
	yml := strings.NewReplacer("BASE", b, "A", ms[0], "B", ms[1]).Replace(tiesYAML)
	c, err := ParseConfig([]byte(yml), "merge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	rep, err := Run(context.Background(), c, RunOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tensors[0].DType != "BF16" {
		t.Errorf("dtype: bfloat16 should set the output dtype, got %s", rep.Tensors[0].DType)
	}
	mem, _, err := Merge(context.Background(), Options{
		Method: "ties", Base: base, Models: models, OutDType: "bf16", DType: "bf16", // the YAML's dtype is the compute dtype
		ModelParams: []map[string]any{
			{"weight": 1.0, "density": []float64{1, 0.7, 0.1}},
			{"weight": []Filter{{Filter: "mlp", Value: 0.5}, {Value: 1}}, "density": 0.5},
		},
		Params: map[string]any{"normalize": true, "lambda": 1.0},
	})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := tensor.OpenCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	for name, want := range mem {
		got, err := ck.ReadTensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Data) != string(want.Data) {
			t.Errorf("%s differs between the YAML run and the in-memory merge", name)
		}
	}
}

func TestConfigYAMLRoundTrip(t *testing.T) {
	c := &Config{Method: "parameter_selection", Base: "b", Seed: 1 << 60,
		Models: []Input{{Path: "x", Params: map[string]any{"weight": []Filter{{Filter: "mlp", Value: 2.0}, {Value: 1.0}}}}, {Path: "y"}},
		Params: map[string]any{"resample": true, "granularity": "row"}}
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseConfig(y, "rt.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if back.Seed != 1<<60 || back.Method != c.Method || back.Base != "b" || len(back.Models) != 2 || back.Params["granularity"] != "row" {
		t.Errorf("round trip: %+v\n%s", back, y)
	}
	info, _ := LookupMethod(c.Method)
	s, err := back.settings(info, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.resolve(info.Params, "a.mlp.w", 0, []int{0, 1})
	if w := p.Models("weight"); w[0] != 2 || w[1] != 1 {
		t.Errorf("weights after round trip %v", w)
	}
}
