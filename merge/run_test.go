package merge

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

// writeVecFamily writes base and models as one-tensor ("w") F32 checkpoints under dir and
// returns a config naming them.
func writeVecFamily(t testing.TB, dir string, base []float32, models [][]float32) *Config {
	t.Helper()
	save := func(name string, v []float32) string {
		p := filepath.Join(dir, name)
		x, err := tensor.NewF32("w", []int{len(v)}, v)
		if err != nil {
			t.Fatal(err)
		}
		if err := tensor.SaveCheckpoint(p, nil, []*tensor.Tensor{x}, tensor.CheckpointOptions{}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := &Config{}
	if base != nil {
		cfg.Base = save("base", base)
	}
	for i, m := range models {
		cfg.Models = append(cfg.Models, Input{Path: save(fmt.Sprintf("m%d", i), m)})
	}
	return cfg
}

func readVec(t testing.TB, dir string) []float32 {
	t.Helper()
	c, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, _, err := c.ReadFloat32("w")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var tokenizerFixtures = map[string]string{
	"tokenizer.json":          `{"version":"1.0","model":{"type":"BPE"}}`,
	"tokenizer_config.json":   `{"bos_token":"<s>"}`,
	"special_tokens_map.json": `{"eos_token":"</s>"}`,
	"generation_config.json":  `{"do_sample":false}`,
}

// writeHFFamily writes a base and models as Hugging Face-layout folders: config.json with an
// unknown key, tokenizer files in the base, sharded when shard > 0.
func writeHFFamily(t testing.TB, dir string, base Model, models []Model, shard int64) (string, []string) {
	t.Helper()
	cfg := tensor.NewLlamaConfig(32, 48, 2, 4, 4, 64, 128)
	if err := cfg.SetExtra("rope_scaling", map[string]any{"type": "linear", "factor": 2.0}); err != nil {
		t.Fatal(err)
	}
	save := func(name string, m Model) string {
		p := filepath.Join(dir, name)
		var ts []*tensor.Tensor
		for _, s := range llamaLike {
			ts = append(ts, m[s.name])
		}
		c := cfg.Clone()
		c.TorchDType = ts[0].DType.TorchName()
		if err := tensor.SaveCheckpoint(p, c, ts, tensor.CheckpointOptions{MaxShardSize: shard}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b := save("base", base)
	for name, content := range tokenizerFixtures {
		if err := os.WriteFile(filepath.Join(b, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var ms []string
	for i, m := range models {
		ms = append(ms, save(fmt.Sprintf("variant%d", i+1), m))
	}
	return b, ms
}

// treeHash hashes every file under dir (names, sizes, contents) to detect any change.
func treeHash(t testing.TB, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s|", rel)
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestRunHFLayoutRoundTrip(t *testing.T) {
	dir := t.TempDir()
	base, models := family(t, 30, llamaLike, tensor.BF16, 3, 0.5)
	b, ms := writeHFFamily(t, dir, base, models, 9000) // small shards: a sharded input
	before := treeHashExcept(t, dir, "merged")
	cfg := &Config{Method: "parameter_selection", Base: b, Seed: 7, Params: map[string]any{"resample": true}}
	for _, m := range ms {
		cfg.Models = append(cfg.Models, Input{Path: m})
	}
	out := filepath.Join(dir, "merged")
	var last Progress
	calls := 0
	rep, err := Run(context.Background(), cfg, RunOptions{Out: out, OutShardSize: 12000, Progress: func(p Progress) { last = p; calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if before != treeHashExcept(t, dir, "merged") {
		t.Fatal("the inputs changed")
	}
	if calls == 0 || last.Done != last.Total || last.Tensors != len(llamaLike) {
		t.Errorf("last progress %+v after %d calls", last, calls)
	}
	c, err := tensor.OpenCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Files()) < 2 {
		t.Errorf("expected a sharded output, got %v", c.Files())
	}
	var names []string
	for _, s := range llamaLike {
		names = append(names, s.name)
		e, ok := c.Entry(s.name)
		if !ok || !slices.Equal(e.Shape, s.shape) || e.DType != tensor.BF16 {
			t.Fatalf("tensor %s: %+v", s.name, e)
		}
	}
	if got := c.Names(); strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("tensor order %v, want the base's %v", got, names)
	}
	// config.json: every key kept, torch_dtype set; tokenizer files copied verbatim.
	var raw map[string]any
	b2, _ := os.ReadFile(filepath.Join(out, "config.json"))
	if err := json.Unmarshal(b2, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["torch_dtype"] != "bfloat16" || raw["rope_scaling"] == nil || raw["num_hidden_layers"] != 2.0 {
		t.Errorf("config.json: %v", raw)
	}
	for name, content := range tokenizerFixtures {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || string(got) != content {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	// The recorded config reproduces the merge.
	rec, err := LoadConfig(filepath.Join(out, ConfigFileName))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Seed != 7 || rec.Method != "parameter_selection" || len(rec.Models) != 3 {
		t.Errorf("recorded config %+v", rec)
	}
	out2 := filepath.Join(dir, "again")
	if _, err := Run(context.Background(), rec, RunOptions{Out: out2, OutShardSize: 12000}); err != nil {
		t.Fatal(err)
	}
	if treeHashTensors(t, out) != treeHashTensors(t, out2) {
		t.Error("rerunning the recorded config gave other tensors")
	}
	// Same bytes as the in-memory merge.
	mem, _, err := Merge(context.Background(), Options{Method: "parameter_selection", Base: base, Models: models, Seed: 7, Params: map[string]any{"resample": true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		x, err := c.ReadTensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if string(x.Data) != string(mem[name].Data) {
			t.Fatalf("tensor %s differs between Run and Merge", name)
		}
	}
	if rep.Total.Elements == 0 || rep.Total.KeptBase <= 0 || len(rep.Models) != 3 || rep.Models[0] != "variant1" || rep.Base != "base" {
		t.Errorf("report %+v", rep.Total)
	}
}

// treeHashExcept hashes every entry of dir except skip (and hidden temporary folders).
func treeHashExcept(t testing.TB, dir, skip string) string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	h := sha256.New()
	for _, e := range entries {
		if e.Name() == skip || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		fmt.Fprint(h, e.Name(), treeHash(t, filepath.Join(dir, e.Name())))
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// treeHashTensors hashes the tensors of a checkpoint (name, dtype, shape, data).
func treeHashTensors(t testing.TB, dir string) string {
	t.Helper()
	c, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := sha256.New()
	names := c.Names()
	sort.Strings(names)
	for _, n := range names {
		x, err := c.ReadTensor(n)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(h, x.String())
		h.Write(x.Data)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// bigShapes are large enough that a 3 MiB budget cuts them into several chunks.
var bigShapes = []tensorShape{
	{"model.embed_tokens.weight", []int{600, 500}},
	{"model.layers.0.mlp.up_proj.weight", []int{400, 350}},
	{"model.layers.0.input_layernorm.weight", []int{500}},
	{"model.layers.1.mlp.up_proj.weight", []int{400, 350}},
	{"lm_head.weight", []int{600, 500}},
}

// TestDeterminism: the same merge gives the same bytes whatever GOMAXPROCS, the number of
// workers, or the memory budget (which changes the chunking and whether whole-tensor methods
// re-read from disk), for every method.
func TestDeterminism(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and merges ~20 checkpoints")
	}
	dir := t.TempDir()
	base, models := family(t, 40, bigShapes, tensor.F32, 3, 0.6)
	b := saveShapes(t, dir, "base", bigShapes, base)
	var ms []string
	for i, m := range models {
		ms = append(ms, saveShapes(t, dir, fmt.Sprintf("m%d", i), bigShapes, m))
	}
	cases := []struct {
		method string
		params map[string]any
		mp     map[string]any
		models int
		noBase bool
	}{
		{"parameter_selection", map[string]any{"resample": true}, nil, 3, false},
		{"parameter_selection", map[string]any{"resample": true, "granularity": "row"}, nil, 3, false},
		{"parameter_selection", map[string]any{"resample": true, "granularity": "tensor", "resample_n": 2}, nil, 3, false},
		{"linear", nil, map[string]any{"weight": 0.7}, 3, true},
		{"ties", nil, map[string]any{"density": 0.4, "weight": 0.9}, 3, false},
		{"dare_ties", nil, map[string]any{"density": 0.5}, 3, false},
		{"dare_linear", map[string]any{"rescale_mode": "l1"}, map[string]any{"density": 0.5}, 3, false},
		{"slerp", map[string]any{"t": []float64{0.2, 0.8}}, nil, 1, false},
		{"model_stock", nil, nil, 3, false},
		{"task_arithmetic", map[string]any{"lambda": 0.8}, nil, 3, false},
	}
	oldProcs := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(oldProcs)
	for _, tc := range cases {
		cfg := &Config{Method: tc.method, Seed: 11, Params: tc.params}
		if !tc.noBase {
			cfg.Base = b
		}
		for _, m := range ms[:tc.models] {
			cfg.Models = append(cfg.Models, Input{Path: m, Params: tc.mp})
		}
		var want string
		for i, run := range []struct {
			procs, workers int
			mem            int64
		}{{1, 1, 0}, {4, 3, 0}, {2, 0, 16 << 20}, {3, 2, 17 << 20}} {
			runtime.GOMAXPROCS(run.procs)
			out := filepath.Join(dir, fmt.Sprintf("out-%s-%d", tc.method, i))
			if _, err := Run(context.Background(), cfg, RunOptions{Out: out, Workers: run.workers, MaxMemory: run.mem, Force: true}); err != nil {
				t.Fatalf("%s run %d: %v", tc.method, i, err)
			}
			h := treeHashTensors(t, out)
			os.RemoveAll(out)
			if i == 0 {
				want = h
			} else if h != want {
				t.Errorf("%s %v: bytes differ from the first run", tc.method, run)
			}
		}
	}
}

// TestStreamingMatchesMemoryWithChunks: merging from disk in many chunks gives the same bytes
// as the in-memory merge.
func TestStreamingMatchesMemoryWithChunks(t *testing.T) {
	dir := t.TempDir()
	base, models := family(t, 41, bigShapes[:2], tensor.BF16, 3, 0.5)
	cfg := &Config{Method: "ties", Base: filepath.Join(dir, "base"), Params: map[string]any{"lambda": 1.2}}
	var ts []*tensor.Tensor
	for _, s := range bigShapes[:2] {
		ts = append(ts, base[s.name])
	}
	if err := tensor.SaveCheckpoint(cfg.Base, nil, ts, tensor.CheckpointOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, m := range models {
		ts = ts[:0]
		for _, s := range bigShapes[:2] {
			ts = append(ts, m[s.name])
		}
		p := filepath.Join(dir, fmt.Sprint("m", i))
		if err := tensor.SaveCheckpoint(p, nil, ts, tensor.CheckpointOptions{}); err != nil {
			t.Fatal(err)
		}
		cfg.Models = append(cfg.Models, Input{Path: p, Params: map[string]any{"density": 0.3}})
	}
	out := filepath.Join(dir, "out")
	if _, err := Run(context.Background(), cfg, RunOptions{Out: out, MaxMemory: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	// bf16 inputs and no dtype: the run computes in bf16 (mergekit's rule), the in-memory merge
	// when asked to; chunking changes nothing in either.
	mem, _, err := Merge(context.Background(), Options{Method: "ties", Base: base, Models: models, DType: "bf16", Densities: []float64{0.3, 0.3, 0.3}, Params: map[string]any{"lambda": 1.2}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tensor.OpenCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, s := range bigShapes[:2] {
		x, _ := c.ReadTensor(s.name)
		if string(x.Data) != string(mem[s.name].Data) {
			t.Fatalf("%s differs", s.name)
		}
	}
}

// expectFailure runs a merge that must fail: one error line mentioning want, no output folder
// and no temporary folder left, inputs unchanged.
func expectFailure(t *testing.T, dir string, cfg *Config, opt RunOptions, want string) {
	t.Helper()
	before := treeHash(t, dir)
	_, err := Run(context.Background(), cfg, opt)
	if err == nil {
		t.Fatalf("merge succeeded, want an error about %q", want)
	}
	msg := err.Error()
	if !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
		t.Fatalf("error %q: want one line mentioning %q", msg, want)
	}
	if after := treeHash(t, dir); after != before {
		t.Fatalf("a failed merge changed the folder (error %q)", msg)
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	base, models := family(t, 50, llamaLike, tensor.F32, 2, 0.5)
	b, ms := writeHFFamily(t, dir, base, models, 9000)
	out := filepath.Join(dir, "out")
	good := func() *Config {
		return &Config{Method: "linear", Base: b, Models: []Input{{Path: ms[0]}, {Path: ms[1]}}}
	}
	t.Run("unknown method", func(t *testing.T) {
		c := good()
		c.Method = "frankenmerge"
		expectFailure(t, dir, c, RunOptions{Out: out}, `unknown merge method "frankenmerge"`)
	})
	t.Run("missing model folder", func(t *testing.T) {
		c := good()
		c.Models[1].Path = filepath.Join(dir, "nope")
		expectFailure(t, dir, c, RunOptions{Out: out}, "no such checkpoint")
	})
	t.Run("needs base", func(t *testing.T) {
		c := good()
		c.Method, c.Base = "ties", ""
		expectFailure(t, dir, c, RunOptions{Out: out}, "ties needs a base model")
	})
	t.Run("density out of range", func(t *testing.T) {
		c := good()
		c.Method = "ties"
		c.Models[1].Params = map[string]any{"density": 1.5}
		expectFailure(t, dir, c, RunOptions{Out: out}, "models[1].parameters.density = 1.5: must be in [0, 1]")
	})
	t.Run("weights sum to zero", func(t *testing.T) {
		c := good()
		c.Models[0].Params = map[string]any{"weight": 1}
		c.Models[1].Params = map[string]any{"weight": -1}
		c.Params = map[string]any{"weight": 0} // the base's weight (linear averages the base in)
		expectFailure(t, dir, c, RunOptions{Out: out}, "sum to 0")
	})
	t.Run("output is an input", func(t *testing.T) {
		expectFailure(t, dir, good(), RunOptions{Out: ms[0], Force: true}, "overlaps input")
	})

	// Damaged copies of a model.
	damage := func(t *testing.T, name string, f func(dir string)) string {
		p := filepath.Join(dir, name)
		if err := os.CopyFS(p, os.DirFS(ms[1])); err != nil {
			t.Fatal(err)
		}
		f(p)
		return p
	}
	t.Run("missing shard", func(t *testing.T) {
		p := damage(t, "noshard", func(p string) { os.Remove(shardFile(t, p, 2)) })
		c := good()
		c.Models[1].Path = p
		expectFailure(t, dir, c, RunOptions{Out: out}, filepath.Base(shardFile(t, ms[1], 2))+" listed in the index is missing")
	})
	t.Run("truncated shard", func(t *testing.T) {
		p := damage(t, "truncated", func(p string) {
			f := shardFile(t, p, 1)
			st, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			os.Truncate(f, st.Size()-10)
		})
		c := good()
		c.Models[1].Path = p
		expectFailure(t, dir, c, RunOptions{Out: out}, "truncated")
	})
	t.Run("mismatched shapes", func(t *testing.T) {
		odd := Model{}
		for k, v := range models[1] {
			odd[k] = v
		}
		x, _ := tensor.NewF32("model.norm.weight", []int{16}, make([]float32, 16))
		odd["model.norm.weight"] = x
		sub := t.TempDir()
		_, oms := writeHFFamily(t, sub, base, []Model{odd}, 0)
		c := good()
		c.Models[1].Path = oms[0]
		expectFailure(t, dir, c, RunOptions{Out: out}, "shapes differ in 1 tensors: model.norm.weight is [32] in ")
	})
	t.Run("missing tensor", func(t *testing.T) {
		sub := t.TempDir()
		var ts []*tensor.Tensor
		for _, s := range llamaLike[:len(llamaLike)-1] {
			ts = append(ts, models[1][s.name])
		}
		p := filepath.Join(sub, "short")
		if err := tensor.SaveCheckpoint(p, nil, ts, tensor.CheckpointOptions{}); err != nil {
			t.Fatal(err)
		}
		c := good()
		c.Models[1].Path = p
		expectFailure(t, dir, c, RunOptions{Out: out}, "1 tensors are not in every model (allow missing tensors to merge them anyway): lm_head.weight missing from short")
		// Allowed: merged over the inputs that have it.
		rep, err := Run(context.Background(), c, RunOptions{Out: filepath.Join(sub, "out"), AllowMissing: true})
		if err != nil {
			t.Fatal(err)
		}
		last := rep.Tensors[len(rep.Tensors)-1]
		if last.Name != "lm_head.weight" || !strings.Contains(last.Note, "merged over the 2 inputs") {
			t.Errorf("lm_head: %+v", last)
		}
		// ties needs the base and one model at least: still merged; model_stock needs two models: copied.
		c.Method = "model_stock"
		rep, err = Run(context.Background(), c, RunOptions{Out: filepath.Join(sub, "out2"), AllowMissing: true})
		if err != nil {
			t.Fatal(err)
		}
		last = rep.Tensors[len(rep.Tensors)-1]
		if !strings.Contains(last.Note, "copied from base") {
			t.Errorf("model_stock lm_head: %+v", last)
		}
	})
	t.Run("NaN with check-finite", func(t *testing.T) {
		bad := Model{}
		for k, v := range models[1] {
			bad[k] = v
		}
		vals := mustFloat32(t, models[1]["model.layers.1.mlp.up_proj.weight"])
		vals[100] = float32(nan())
		x, _ := tensor.NewF32("model.layers.1.mlp.up_proj.weight", []int{48, 32}, vals)
		bad["model.layers.1.mlp.up_proj.weight"] = x
		sub := t.TempDir()
		_, bms := writeHFFamily(t, sub, base, []Model{bad}, 0)
		c := good()
		c.Models[1].Path = bms[0]
		expectFailure(t, dir, c, RunOptions{Out: out, CheckFinite: true}, "variant1 has NaN at element 100 (non-finite values are not allowed)")
		// Without the check the merge goes through.
		if _, err := Run(context.Background(), c, RunOptions{Out: filepath.Join(sub, "out")}); err != nil {
			t.Fatal(err)
		}
	})
}

// shardFile returns the path of shard i of a sharded checkpoint.
func shardFile(t *testing.T, dir string, i int) string {
	m, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("model-%05d-of-*.safetensors", i)))
	if len(m) != 1 {
		t.Fatalf("no shard %d in %s", i, dir)
	}
	return m[0]
}

func nan() float64 { var z float64; return z / z }

func TestExistingOutput(t *testing.T) {
	dir := t.TempDir()
	cfg := writeVecFamily(t, dir, nil, [][]float32{{1, 2}, {3, 4}})
	cfg.Method = "linear"
	out := filepath.Join(dir, "out")
	if _, err := Run(context.Background(), cfg, RunOptions{Out: out}); err != nil {
		t.Fatal(err)
	}
	expectFailure(t, dir, cfg, RunOptions{Out: out}, "already exists")
	cfg.Models[0].Params = map[string]any{"weight": 3}
	if _, err := Run(context.Background(), cfg, RunOptions{Out: out, Force: true}); err != nil {
		t.Fatal(err)
	}
	approxEqual(t, readVec(t, out), []float32{1.5, 2.5}, 0)
}

func TestCancelLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	_, models := family(t, 60, bigShapes, tensor.F32, 2, 0.5)
	var paths []Input
	for i, m := range models {
		var ts []*tensor.Tensor
		for _, s := range bigShapes {
			ts = append(ts, m[s.name])
		}
		p := filepath.Join(dir, fmt.Sprint("m", i))
		if err := tensor.SaveCheckpoint(p, nil, ts, tensor.CheckpointOptions{}); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, Input{Path: p})
	}
	before := treeHash(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Run(ctx, &Config{Method: "linear", Models: paths}, RunOptions{
		Out: filepath.Join(dir, "out"), MaxMemory: 8 << 20, Workers: 1,
		Progress: func(p Progress) {
			if p.Done > 0 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if treeHash(t, dir) != before {
		t.Fatal("cancelled merge left files behind")
	}
}

// TestPythonReader reads a merged checkpoint with a stdlib-only Python reader.
func TestPythonReader(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	dir := t.TempDir()
	base, models := family(t, 70, llamaLike, tensor.BF16, 2, 0.5)
	b, ms := writeHFFamily(t, dir, base, models, 0)
	out := filepath.Join(dir, "out")
	cfg := &Config{Method: "parameter_selection", Base: b, Seed: 3, Models: []Input{{Path: ms[0]}, {Path: ms[1]}}, OutDType: "float32"}
	if _, err := Run(context.Background(), cfg, RunOptions{Out: out, OutShardSize: 10000}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/read_checkpoint.py", out)
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python reader: %v\n%s", err, got)
	}
	// One line per tensor: name dtype shape sum-of-values.
	c, _ := tensor.OpenCheckpoint(out)
	defer c.Close()
	var want strings.Builder
	for _, n := range c.Names() {
		v, shape, _ := c.ReadFloat32(n)
		var s float64
		for _, x := range v {
			s += float64(x)
		}
		fmt.Fprintf(&want, "%s F32 %v %.6e\n", n, strings.ReplaceAll(fmt.Sprint(shape), " ", ","), s)
	}
	if string(got) != want.String() {
		t.Errorf("python read\n%s\nwant\n%s", got, want.String())
	}
}

// Single .safetensors files as inputs; an empty tensor, a scalar and a non-float tensor.
func TestRunOddInputs(t *testing.T) {
	dir := t.TempDir()
	ids := &tensor.Tensor{Name: "position_ids", DType: tensor.I64, Shape: []int{2}, Data: []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}}
	var files []Input
	for i, v := range [][]float32{{1, 2, 3}, {3, 4, 5}} {
		w, _ := tensor.NewF32("w", []int{3}, v)
		empty, _ := tensor.NewF32("empty", []int{0, 4}, nil)
		scalar, _ := tensor.NewF32("scale", nil, []float32{float32(i + 1)})
		p := filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i))
		if err := tensor.WriteFile(p, []*tensor.Tensor{w, empty, scalar, ids}, nil); err != nil {
			t.Fatal(err)
		}
		files = append(files, Input{Path: p})
	}
	out := filepath.Join(dir, "out")
	for _, gran := range []string{"element", "row", "tensor"} {
		rep, err := Run(context.Background(), &Config{Method: "parameter_selection", Models: files, Params: map[string]any{"granularity": gran}}, RunOptions{Out: out, Force: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Tensors) != 4 || !strings.Contains(rep.Tensors[3].Note, "I64 tensor copied") {
			t.Fatalf("%+v", rep.Tensors)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "config.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a merge of single files has no config.json to copy, got %v", err)
	}
	c, err := tensor.OpenCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.ReadTensor("position_ids")
	if err != nil || string(got.Data) != string(ids.Data) || got.DType != tensor.I64 {
		t.Errorf("position_ids %v %v", got, err)
	}
	e, _ := c.Entry("empty")
	if !slices.Equal(e.Shape, []int{0, 4}) {
		t.Errorf("empty tensor shape %v", e.Shape)
	}
	s, _, _ := c.ReadFloat32("scale")
	if len(s) != 1 || (s[0] != 1 && s[0] != 2) {
		t.Errorf("scalar %v", s)
	}
}

// TestLayoutFitsBudget: the buffers the layout plans fit the budget, and the small budgets the
// tests above use really cut their tensors into several chunks.
func TestLayoutFitsBudget(t *testing.T) {
	base, models := family(t, 90, bigShapes, tensor.F32, 3, 0.5)
	in := planInput{method: "ties", settings: settings{global: map[string]value{}}}
	var err error
	if in.base, err = newMemorySource("base", base); err != nil {
		t.Fatal(err)
	}
	for i, m := range models {
		src, err := newMemorySource(fmt.Sprint("m", i), m)
		if err != nil {
			t.Fatal(err)
		}
		in.models = append(in.models, src)
		in.labels = append(in.labels, fmt.Sprint("m", i))
	}
	p, err := buildPlan(in)
	if err != nil {
		t.Fatal(err)
	}
	// The smallest budget that holds one block per input, in steps of 256 KiB.
	least := int64(1 << 20)
	for ; least < 64<<20; least += 256 << 10 {
		if _, err := p.layout(least, 1); err == nil {
			break
		}
	}
	for _, tc := range []struct {
		budget  int64
		workers int
	}{{least, 1}, {least + 1<<20, 2}, {256 << 20, 2}, {64 << 20, 8}} {
		l, err := p.layout(tc.budget, tc.workers)
		if err != nil {
			t.Fatal(err)
		}
		k := len(p.models)
		fixed := int64((len(l.slotSize)+1)*blockElems*4+blockElems+(k+2)*blockElems*4) + p.maxKernelState()
		used := int64(l.workers) * (fixed + int64(l.chunk*l.perElem))
		if used > tc.budget {
			t.Errorf("budget %d: %d workers x chunk %d use %d bytes", tc.budget, l.workers, l.chunk, used)
		}
		if tc.budget <= least+1<<20 && l.chunk >= 300_000 {
			t.Errorf("budget %d: chunk %d does not cut the 300000-element tensors", tc.budget, l.chunk)
		}
	}
	if _, err := p.layout(2<<20, 1); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("a 2 MiB budget: %v", err)
	}
}

// wordLevel is a tokenizer.json of a WordLevel tokenizer whose vocabulary lists toks in id
// order.
func wordLevel(toks []string) []byte {
	vocab := map[string]int{}
	for i, tok := range toks {
		vocab[tok] = i
	}
	b, _ := json.Marshal(map[string]any{"version": "1.0", "added_tokens": []any{}, "model": map[string]any{"type": "WordLevel", "vocab": vocab, "unk_token": toks[0]}})
	return b
}

func TestReportJSONAndTokenizerSource(t *testing.T) {
	dir := t.TempDir()
	base, models := family(t, 95, llamaLike, tensor.F32, 2, 0.5)
	b, ms := writeHFFamily(t, dir, base, models, 0)
	// The base's vocabulary tok0..tok63; the second model has the same tokens in the reverse
	// order (the first has no tokenizer: it shares the base's, as in mergekit).
	toks := make([]string, 64)
	for i := range toks {
		toks[i] = fmt.Sprintf("tok%d", i)
	}
	rev := slices.Clone(toks)
	slices.Reverse(rev)
	if err := os.WriteFile(filepath.Join(b, "tokenizer.json"), wordLevel(toks), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ms[1], "tokenizer.json"), wordLevel(rev), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Method: "task_arithmetic", Base: b, Models: []Input{{Path: ms[0]}, {Path: ms[1]}}, TokenizerSource: ms[1]}
	out := filepath.Join(dir, "out")
	rep, err := Run(context.Background(), cfg, RunOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(out, "tokenizer.json"))
	if string(got) != string(wordLevel(rev)) {
		t.Errorf("tokenizer.json from the named source: %s", got)
	}
	if _, err := os.Stat(filepath.Join(out, "tokenizer_config.json")); err == nil {
		t.Error("files the tokenizer source lacks must not come from elsewhere")
	}
	// Output row r is token tok(63-r): row 63-r of the base and the first model, row r of the
	// second; task arithmetic of those rows.
	c, err := tensor.OpenCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	emb, _, err := c.ReadFloat32("model.embed_tokens.weight")
	if err != nil {
		t.Fatal(err)
	}
	bv, m0, m1 := mustFloat32(t, base["model.embed_tokens.weight"]), mustFloat32(t, models[0]["model.embed_tokens.weight"]), mustFloat32(t, models[1]["model.embed_tokens.weight"])
	const dim = 32
	for r := range 64 {
		for j := range dim {
			o := (63-r)*dim + j
			want := float64(bv[o]) + (float64(m0[o]) - float64(bv[o])) + (float64(m1[r*dim+j]) - float64(bv[o]))
			if d := math.Abs(float64(emb[r*dim+j]) - want); d > 1e-6 {
				t.Fatalf("row %d col %d: %v, want %v", r, j, emb[r*dim+j], want)
			}
		}
	}
	// JSON: NaN (a model lacking a tensor) is written as null and read back as NaN.
	rep.Tensors[0].Distance[1] = math.NaN()
	js, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), "null") {
		t.Errorf("NaN not written as null")
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(back.Tensors[0].Distance[1]) || back.Tensors[0].Distance[0] != rep.Tensors[0].Distance[0] || back.Method != rep.Method {
		t.Errorf("round trip: %+v", back.Tensors[0])
	}
	for src, want := range map[string]string{filepath.Join(dir, "elsewhere"): "is not one of the merged models"} {
		cfg.TokenizerSource = src
		expectFailure(t, dir, cfg, RunOptions{Out: filepath.Join(dir, "out2")}, want)
	}
}
