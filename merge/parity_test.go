package merge

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

func readTensor(t *testing.T, dir, name string) []float32 {
	t.Helper()
	c, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, _, err := c.ReadFloat32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func readConfigKey(t *testing.T, dir, key string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return raw[key]
}

// TestSlicesStacking stacks layer ranges with passthrough (a frankenmerge): output layer j
// is the source layer its slice maps it to, byte for byte, scale applies per source, and
// config.json's num_hidden_layers follows.
func TestSlicesStacking(t *testing.T) {
	dir := t.TempDir()
	base, models := family(t, 21, llamaLike, tensor.F32, 1, 0.5)
	b, ms := writeHFFamily(t, dir, base, models, 0)
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`
merge_method: passthrough
slices:
  - sources:
      - model: %s
        layer_range: [0, 2]
  - sources:
      - model: %s
        layer_range: [1, 2]
        parameters:
          scale:
            - filter: mlp
              value: 0.5
            - value: 1
`, b, ms[0])), "stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if _, err := Run(context.Background(), cfg, RunOptions{Out: out}); err != nil {
		t.Fatal(err)
	}
	if n := readConfigKey(t, out, "num_hidden_layers"); n != 3.0 {
		t.Errorf("num_hidden_layers %v, want 3", n)
	}
	for _, tc := range []struct {
		out   string
		from  Model
		name  string
		scale float32
	}{
		{"model.embed_tokens.weight", base, "model.embed_tokens.weight", 1},
		{"model.layers.0.self_attn.q_proj.weight", base, "model.layers.0.self_attn.q_proj.weight", 1},
		{"model.layers.1.mlp.up_proj.weight", base, "model.layers.1.mlp.up_proj.weight", 1},
		{"model.layers.2.self_attn.q_proj.weight", models[0], "model.layers.1.self_attn.q_proj.weight", 1},
		{"model.layers.2.mlp.up_proj.weight", models[0], "model.layers.1.mlp.up_proj.weight", 0.5},
		{"model.norm.weight", models[0], "model.norm.weight", 1},
		{"lm_head.weight", models[0], "lm_head.weight", 1},
	} {
		want := mustFloat32(t, tc.from[tc.name])
		for i := range want {
			want[i] *= tc.scale
		}
		approxEqual(t, readTensor(t, out, tc.out), want, 0)
	}
	// Mismatched source lengths and ranges past the model are errors naming the source.
	bad := *cfg
	bad.Slices = []Slice{{Sources: []SliceSource{{Path: b, LayerRange: [2]int{0, 2}}, {Path: ms[0], LayerRange: [2]int{0, 1}}}}}
	bad.Method = "linear"
	expectFailure(t, dir, &bad, RunOptions{Out: filepath.Join(dir, "x")}, "slices[0].sources[1].layer_range: 1 layers, but the slice's first source has 2")
	bad.Slices = []Slice{{Sources: []SliceSource{{Path: b, LayerRange: [2]int{1, 3}}}}}
	expectFailure(t, dir, &bad, RunOptions{Out: filepath.Join(dir, "x")}, "[1, 3) is beyond the 2 layers")
	// From a file, the message says where.
	y := fmt.Sprintf("merge_method: linear\nslices:\n  - sources:\n      - model: %s\n        layer_range: [0, 2]\n      - model: %s\n        layer_range: [0, 1]\n", b, ms[0])
	fc, err := ParseConfig([]byte(y), "f.yml")
	if err != nil {
		t.Fatal(err)
	}
	expectFailure(t, dir, fc, RunOptions{Out: filepath.Join(dir, "x")}, "f.yml:7:22: slices[0].sources[1].layer_range: 1 layers")
}

// TestGradientSlerpExample runs the shape of mergekit's examples/gradient-slerp.yml (one
// slice over every layer, t filtered by self_attn/mlp as gradients, a fallback) and checks it
// against the models form, which mergekit plans the same way; and that the tensors after the
// layers take the gradient's first value, or its last under ordermerge_compat.
func TestGradientSlerpExample(t *testing.T) {
	dir := t.TempDir()
	base, models := family(t, 22, llamaLike, tensor.F32, 1, 0.5)
	b, ms := writeHFFamily(t, dir, base, models, 0)
	params := `parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: [0.2, 0.9]
dtype: float16
`
	sliced := fmt.Sprintf("slices:\n  - sources:\n      - model: %s\n        layer_range: [0, 2]\n      - model: %s\n        layer_range: [0, 2]\nmerge_method: slerp\nbase_model: %s\n%s", b, ms[0], b, params)
	plain := fmt.Sprintf("models:\n  - model: %s\n  - model: %s\nmerge_method: slerp\nbase_model: %s\n%s", b, ms[0], b, params)
	run := func(name, y string) string {
		cfg, err := ParseConfig([]byte(y), name)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name)
		if _, err := Run(context.Background(), cfg, RunOptions{Out: out}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, p := run("sliced", sliced), run("plain", plain)
	if treeHashTensors(t, a) != treeHashTensors(t, p) {
		t.Error("one slice over every layer differs from the models form")
	}
	// lm_head at t = 0.2 (first value), or 0.9 with the old ends: slerp of two nearby
	// vectors, so compare the distances to the endpoints.
	legacy := run("legacy", plain+"ordermerge_compat: mergekit-pre-2025-03\n")
	bh, mh := mustFloat32(t, base["lm_head.weight"]), mustFloat32(t, models[0]["lm_head.weight"])
	closer := func(dir string) float64 {
		v := readTensor(t, dir, "lm_head.weight")
		var db, dm float64
		for i := range v {
			db += float64((v[i] - bh[i]) * (v[i] - bh[i]))
			dm += float64((v[i] - mh[i]) * (v[i] - mh[i]))
		}
		return db / (db + dm)
	}
	if c := closer(p); c > 0.2 {
		t.Errorf("lm_head share of the way to the model %.2f: want near t=0.2 (the first value)", c)
	}
	if c := closer(legacy); c < 0.8 {
		t.Errorf("legacy lm_head share of the way %.2f: want near t=0.9 (the last value)", c)
	}
	// The layers are unaffected by the option.
	if x, y := readTensor(t, p, "model.layers.1.mlp.up_proj.weight"), readTensor(t, legacy, "model.layers.1.mlp.up_proj.weight"); fmt.Sprint(x) != fmt.Sprint(y) {
		t.Error("ordermerge_compat changed a layer tensor")
	}
}

// TestMultiMerge runs a file of two merges: the named one is written to the intermediate
// folder and the final one uses it as a model path.
func TestMultiMerge(t *testing.T) {
	dir := t.TempDir()
	base, models := family(t, 23, llamaLike, tensor.F32, 2, 0.5)
	_, ms := writeHFFamily(t, dir, base, models, 0)
	y := fmt.Sprintf(`name: first
merge_method: linear
models:
  - model: %s
  - model: %s
---
merge_method: linear
models:
  - model: first
  - model: %s
`, ms[0], ms[1], ms[0])
	cfgs, err := ParseConfigs([]byte(y), "multi.yml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseConfig([]byte(y), "multi.yml"); err == nil || !strings.Contains(err.Error(), "holds 2 merges") {
		t.Errorf("ParseConfig of a multi-merge file: %v", err)
	}
	out, inter := filepath.Join(dir, "out"), filepath.Join(dir, "inter")
	reps, err := RunAll(context.Background(), cfgs, MultiOptions{RunOptions: RunOptions{Out: out}, IntermediateDir: inter})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 {
		t.Fatalf("%d reports", len(reps))
	}
	for _, sh := range llamaLike {
		m0, m1 := mustFloat32(t, models[0][sh.name]), mustFloat32(t, models[1][sh.name])
		want := make([]float32, len(m0))
		for i := range want {
			first := float32((float64(m0[i]) + float64(m1[i])) / 2)
			want[i] = float32((float64(first) + float64(m0[i])) / 2)
		}
		approxEqual(t, readTensor(t, out, sh.name), want, 1e-6)
	}
	if !isFile(filepath.Join(inter, "first", "model.safetensors")) {
		t.Error("the named merge is not in the intermediate folder")
	}
	// A cycle is refused before anything runs.
	cyc := fmt.Sprintf("name: a\nmerge_method: linear\nmodels: [b, %s]\n---\nname: b\nmerge_method: linear\nmodels: [a]\n---\nmerge_method: linear\nmodels: [a]\n", ms[0])
	cfgs, err = ParseConfigs([]byte(cyc), "cyc.yml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RunAll(context.Background(), cfgs, MultiOptions{RunOptions: RunOptions{Out: filepath.Join(dir, "o2")}}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
}

// TestTokenizerUnionAndChatTemplate merges a model with an added token into one without:
// the union vocabulary keeps the base's ids and appends the new token, whose row every input
// takes from the only model that has it; rows are padded with zeros to pad_to_multiple_of;
// chat_template lands in tokenizer_config.json.
func TestTokenizerUnionAndChatTemplate(t *testing.T) {
	dir := t.TempDir()
	base, models := family(t, 24, llamaLike, tensor.F32, 2, 0.5)
	// The second fine-tune added a token: one more embedding and head row.
	grown := Model{}
	for k, v := range models[1] {
		grown[k] = v
	}
	extra := randVec(rand.New(rand.NewPCG(5, 6)), 32)
	for _, n := range []string{"model.embed_tokens.weight", "lm_head.weight"} {
		v := append(mustFloat32(t, models[1][n]), extra...)
		x, _ := tensor.NewF32(n, []int{65, 32}, v)
		grown[n] = x
	}
	b, ms := writeHFFamily(t, dir, base, []Model{models[0], grown}, 0)
	toks := make([]string, 64)
	for i := range toks {
		toks[i] = fmt.Sprintf("tok%d", i)
	}
	write := func(dir string, toks []string, template string) {
		if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), wordLevel(toks), 0o644); err != nil {
			t.Fatal(err)
		}
		tc, _ := json.Marshal(map[string]any{"chat_template": template})
		if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), tc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(b, toks, "{{ base }}")
	write(ms[0], toks, "{{ shared template }}")
	write(ms[1], append(toks, "<new>"), "{{ shared template }}")
	mc, err := tensor.ReadConfig(filepath.Join(ms[1], "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	mc.VocabSize = 65
	if err := tensor.WriteConfig(filepath.Join(ms[1], "config.json"), mc); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`
merge_method: task_arithmetic
base_model: %s
models:
  - model: %s
  - model: %s
tokenizer:
  source: union
  pad_to_multiple_of: 8
chat_template: auto
`, b, ms[0], ms[1])), "union.yml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if _, err := Run(context.Background(), cfg, RunOptions{Out: out}); err != nil {
		t.Fatal(err)
	}
	if v := readConfigKey(t, out, "vocab_size"); v != 72.0 {
		t.Errorf("vocab_size %v, want 72 (65 padded to a multiple of 8)", v)
	}
	emb := readTensor(t, out, "model.embed_tokens.weight")
	if len(emb) != 72*32 {
		t.Fatalf("%d embedding values", len(emb))
	}
	bv, m0, m1 := mustFloat32(t, base["model.embed_tokens.weight"]), mustFloat32(t, models[0]["model.embed_tokens.weight"]), mustFloat32(t, models[1]["model.embed_tokens.weight"])
	for i := range 64 * 32 {
		want := float64(bv[i]) + (float64(m0[i]) - float64(bv[i])) + (float64(m1[i]) - float64(bv[i]))
		if d := float64(emb[i]) - want; d > 1e-6 || d < -1e-6 {
			t.Fatalf("element %d: %v, want %v", i, emb[i], want)
		}
	}
	approxEqual(t, emb[64*32:65*32], extra, 1e-6) // the donor's row in every input
	approxEqual(t, emb[65*32:], make([]float32, 7*32), 0)
	var tj struct {
		AddedTokens []struct {
			ID      int
			Content string
		} `json:"added_tokens"`
	}
	tb, _ := os.ReadFile(filepath.Join(out, "tokenizer.json"))
	if err := json.Unmarshal(tb, &tj); err != nil || len(tj.AddedTokens) != 1 || tj.AddedTokens[0].Content != "<new>" || tj.AddedTokens[0].ID != 64 {
		t.Errorf("tokenizer.json added tokens %+v (%v)", tj.AddedTokens, err)
	}
	if got := readChatTemplate(out); got != "{{ shared template }}" {
		t.Errorf("chat template %q, want the one most inputs have", got)
	}
	// chatml, a literal template, and a name that is not bundled.
	for tmpl, want := range map[string]string{"chatml": chatMLTemplate, "{% for m in messages %}{{ m.content }}{% endfor %}": "{% for m in messages %}{{ m.content }}{% endfor %}"} {
		c := *cfg
		c.ChatTemplate = tmpl
		o := filepath.Join(t.TempDir(), "o")
		if _, err := Run(context.Background(), &c, RunOptions{Out: o}); err != nil {
			t.Fatal(err)
		}
		if got := readChatTemplate(o); got != want {
			t.Errorf("%s: template %q", tmpl, got)
		}
	}
	c := *cfg
	c.ChatTemplate = "vicuna"
	expectFailure(t, dir, &c, RunOptions{Out: filepath.Join(dir, "x")}, `chat_template "vicuna"`)

	// Token rules: <new> zeros where a model lacks it (the model that has it keeps its row),
	// <extra> (added to the vocabulary) from the second model's <new>, tok3 forced from the
	// first model.
	rules, err := ParseConfig([]byte(fmt.Sprintf(`
merge_method: task_arithmetic
base_model: %s
models: [%s, %s]
tokenizer:
  source: base
  tokens:
    "<new>": {source: {kind: zero}}
    "<extra>": {source: {kind: model_token, model: %s, token: "<new>"}}
    tok3: {source: %s, force: true}
`, b, ms[0], ms[1], ms[1], ms[0])), "rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	out3 := filepath.Join(dir, "rules")
	if _, err := Run(context.Background(), rules, RunOptions{Out: out3}); err != nil {
		t.Fatal(err)
	}
	emb = readTensor(t, out3, "model.embed_tokens.weight")
	if len(emb) != 66*32 {
		t.Fatalf("%d rows, want 66 (64 + <extra> + <new>)", len(emb)/32)
	}
	approxEqual(t, emb[3*32:4*32], m0[3*32:4*32], 1e-6)
	approxEqual(t, emb[64*32:65*32], extra, 1e-6) // <extra>: every input has the donor row
	approxEqual(t, emb[65*32:66*32], extra, 1e-6) // <new>: 0 + (0 - 0) + (extra - 0)
	approxEqual(t, emb[4*32:5*32], emb4(bv, m0, m1), 1e-6)
	// The recorded config keeps the rules.
	rec, err := LoadConfig(filepath.Join(out3, ConfigFileName))
	if err != nil {
		t.Fatal(err)
	}
	if tr := rec.Tokenizer.Tokens; !tr["tok3"].Force || !tr["<new>"].Zero || tr["<extra>"].Token != "<new>" || rec.Tokenizer.Source != "base" {
		t.Errorf("recorded rules %+v", rec.Tokenizer)
	}
}

// emb4 is row 4 of task arithmetic of base and two models with weight 1.
func emb4(b, m0, m1 []float32) []float32 {
	out := make([]float32, 32)
	for j := range out {
		i := 4*32 + j
		out[j] = float32(float64(b[i]) + (float64(m0[i]) - float64(b[i])) + (float64(m1[i]) - float64(b[i])))
	}
	return out
}

// TestTiedAndGrownVocabularies mixes a tied-embedding model (no lm_head) and a fine-tune with
// an added token into an untied one without a tokenizer source: the tied model's embeddings
// serve as its lm_head, and embed_tokens/lm_head keep the 64 rows every model has.
func TestTiedAndGrownVocabularies(t *testing.T) {
	dir := t.TempDir()
	base, models := family(t, 25, llamaLike, tensor.F32, 2, 0.5)
	tied := Model{}
	for k, v := range models[0] {
		if k != "lm_head.weight" {
			tied[k] = v
		}
	}
	grown := Model{}
	for k, v := range models[1] {
		grown[k] = v
	}
	for _, n := range []string{"model.embed_tokens.weight", "lm_head.weight"} {
		x, _ := tensor.NewF32(n, []int{65, 32}, append(mustFloat32(t, models[1][n]), make([]float32, 32)...))
		grown[n] = x
	}
	save := func(name string, m Model, tie bool, vocab int) string {
		cfg := tensor.NewLlamaConfig(32, 48, 2, 4, 4, vocab, 128)
		cfg.TieWordEmbeddings = tie
		var ts []*tensor.Tensor
		for _, s := range llamaLike {
			if x, ok := m[s.name]; ok {
				ts = append(ts, x)
			}
		}
		p := filepath.Join(dir, name)
		if err := tensor.SaveCheckpoint(p, cfg, ts, tensor.CheckpointOptions{}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b, tp, gp := save("base", base, false, 64), save("tied", tied, true, 64), save("grown", grown, false, 65)
	cfg := &Config{Method: "linear", Models: []Input{{Path: b}, {Path: tp}, {Path: gp}}}
	out := filepath.Join(dir, "out")
	rep, err := Run(context.Background(), cfg, RunOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if v := readConfigKey(t, out, "vocab_size"); v != 64.0 {
		t.Errorf("vocab_size %v, want 64", v)
	}
	avg := func(xs ...[]float32) []float32 {
		out := make([]float32, 64*32)
		for i := range out {
			var s float64
			for _, x := range xs {
				s += float64(x[i])
			}
			out[i] = float32(s / float64(len(xs)))
		}
		return out
	}
	emb := func(m Model, n string) []float32 { return mustFloat32(t, m[n])[:64*32] }
	approxEqual(t, readTensor(t, out, "lm_head.weight"), avg(emb(base, "lm_head.weight"), emb(models[0], "model.embed_tokens.weight"), emb(models[1], "lm_head.weight")), 1e-6)
	approxEqual(t, readTensor(t, out, "model.embed_tokens.weight"), avg(emb(base, "model.embed_tokens.weight"), emb(models[0], "model.embed_tokens.weight"), emb(models[1], "model.embed_tokens.weight")), 1e-6)
	noted := false
	for _, tr := range rep.Tensors {
		noted = noted || (tr.Name == "lm_head.weight" && strings.Contains(tr.Note, "the first 64 rows"))
	}
	if !noted {
		t.Error("the report does not say lm_head was cut to the common rows")
	}
	// Only tied models: no lm_head in the output.
	out2 := filepath.Join(dir, "out2")
	tp2 := save("tied2", tied, true, 64)
	if _, err := Run(context.Background(), &Config{Method: "linear", Models: []Input{{Path: tp}, {Path: tp2}}}, RunOptions{Out: out2}); err != nil {
		t.Fatal(err)
	}
	c, err := tensor.OpenCheckpoint(out2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.Entry("lm_head.weight"); ok {
		t.Error("a merge of tied models has an lm_head")
	}
}
