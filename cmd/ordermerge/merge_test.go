package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/merge"
	"github.com/ordermerge/ordermerge/tensor"
)

// mergeFixture writes a base and three variants (bf16, two tensors, config.json and a
// tokenizer file in the base) and returns their folders.
func mergeFixture(t *testing.T) (dir, base string, models []string) {
	t.Helper()
	dir = t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	shapes := map[string][]int{"model.layers.0.mlp.up_proj.weight": {16, 8}, "model.norm.weight": {8}}
	names := []string{"model.layers.0.mlp.up_proj.weight", "model.norm.weight"}
	baseVals := map[string][]float32{}
	for _, n := range names {
		numel := 1
		for _, d := range shapes[n] {
			numel *= d
		}
		v := make([]float32, numel)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		baseVals[n] = v
	}
	save := func(name string, moved float64) string {
		var ts []*tensor.Tensor
		for _, n := range names {
			v := append([]float32(nil), baseVals[n]...)
			for i := range v {
				if r.Float64() < moved {
					v[i] += float32(r.NormFloat64())
				}
			}
			x, err := tensor.FromFloat32(n, shapes[n], v, tensor.BF16)
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, x)
		}
		p := filepath.Join(dir, name)
		cfg := tensor.NewLlamaConfig(8, 16, 1, 2, 2, 32, 64)
		if err := tensor.SaveCheckpoint(p, cfg, ts, tensor.CheckpointOptions{}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base = save("base", 0)
	if err := os.WriteFile(filepath.Join(base, "tokenizer.json"), []byte(`{"model":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		models = append(models, save(fmt.Sprintf("order%d", i+1), 0.5))
	}
	return dir, base, models
}

func TestMergeCLIShortForm(t *testing.T) {
	dir, base, models := mergeFixture(t)
	out := filepath.Join(dir, "merged")
	jsonPath := filepath.Join(dir, "report.json")
	args := []string{"merge", "--method", "parameter_selection", "--base", base, "--models", strings.Join(models, ","),
		"--seed", "42", "--resample", "--out", out, "--json", jsonPath}
	stdout, stderr, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "parameter_selection merge of 3 models on base base") || !strings.Contains(stdout, "order2") || !strings.Contains(stdout, "wrote "+out) {
		t.Errorf("stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "merge: 100%") {
		t.Errorf("stderr should log progress lines when not a terminal:\n%s", stderr)
	}
	// The report file, the tokenizer file, and inspect reading the result.
	var rep merge.Report
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Seed != 42 || len(rep.Tensors) != 2 || len(rep.Total.Taken) != 3 {
		t.Errorf("report %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(out, "tokenizer.json")); err != nil {
		t.Error(err)
	}
	insp, stderr, code := runCLI(t, "inspect", "--json", out)
	if code != 0 {
		t.Fatalf("inspect: %s", stderr)
	}
	if !strings.Contains(insp, "model.layers.0.mlp.up_proj.weight") || !strings.Contains(insp, `"BF16"`) {
		t.Errorf("inspect output:\n%s", insp)
	}
	// The same command again (forced) gives the same tensors.
	first, _ := os.ReadFile(filepath.Join(out, "model.safetensors"))
	if _, stderr, code = runCLI(t, append(args, "--force", "--workers", "1", "--max-memory", "8MiB")...); code != 0 {
		t.Fatalf("rerun: %s", stderr)
	}
	again, _ := os.ReadFile(filepath.Join(out, "model.safetensors"))
	if string(first) != string(again) {
		t.Error("rerunning with another worker count and budget changed the bytes")
	}
}

func TestMergeCLIConfig(t *testing.T) {
	dir, base, models := mergeFixture(t)
	cfgPath := filepath.Join(dir, "merge.yaml")
	yml := fmt.Sprintf("merge_method: ties\nbase_model: %s\nmodels:\n  - model: %s\n    parameters: {density: 0.5, weight: 1}\n  - model: %s\n    parameters: {density: 0.7, weight: 0.5}\nparameters:\n  lambda: [1, 0.5]\nout_dtype: float32\n", base, models[0], models[1])
	if err := os.WriteFile(cfgPath, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "merged")
	stdout, stderr, code := runCLI(t, "merge", "--config", cfgPath, "--out", out, "--quiet", "--out-shard-size", "300")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("--quiet printed %q", stderr)
	}
	// --quiet: no report table, only the line saying what was written.
	if strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(stdout, "wrote "+out) {
		t.Errorf("--quiet stdout %q", stdout)
	}
	c, err := tensor.OpenCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Files()) != 2 || c.Config == nil || c.Config.TorchDType != "float32" {
		t.Errorf("files %v config %+v", c.Files(), c.Config)
	}
}

func TestMergeCLIErrors(t *testing.T) {
	dir, base, models := mergeFixture(t)
	out := filepath.Join(dir, "merged")
	cfgPath := filepath.Join(dir, "bad.yaml")
	os.WriteFile(cfgPath, []byte("merge_method: ties\nmodels:\n  - model: x\n    parameters:\n      densty: 0.5\n"), 0o644)
	all := strings.Join(models, ",")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--method", "frankenmerge", "--models", all, "--out", out}, 1, `unknown merge method "frankenmerge"`},
		{[]string{"--method", "linear", "--models", all}, 2, "--out is required"},
		{[]string{"--models", all, "--out", out}, 2, "give --config FILE, or --method"},
		{[]string{"--method", "linear", "--models", all, "--weights", "1,2", "--out", out}, 2, "--weights has 2 values for 3 models"},
		{[]string{"--config", cfgPath, "--weights", "1", "--out", out}, 2, "--weights cannot be combined with --config"},
		{[]string{"--config", cfgPath, "--out", out}, 1, "bad.yaml:5:7: models[0].parameters.densty: unknown parameter for ties"},
		{[]string{"--method", "ties", "--base", base, "--models", all, "--density", "0.5,2,0.5", "--out", out}, 1, "--density: models[1].parameters.density = 2: must be in [0, 1]"},
		{[]string{"--method", "ties", "--models", all, "--out", out}, 1, "ties needs a base model"},
		{[]string{"--method", "parameter_selection", "--models", all, "--resample", "--out", out}, 2, "--resample redraws the elements of a model equal to the base's, so it needs --base DIR"},
		{[]string{"--method", "parameter_selection", "--models", all, "--resample-n", "3", "--out", out}, 2, "needs --base DIR"},
		{[]string{"--method", "slerp", "--models", all, "--param", "t=0.5", "--out", out}, 1, "slerp takes at most 2 models"},
		{[]string{"--method", "slerp", "--models", models[0] + "," + models[1], "--out", out}, 1, "slerp needs parameter t"},
		{[]string{"--method", "linear", "--models", all + "," + filepath.Join(dir, "missing"), "--out", out}, 1, "no such checkpoint"},
		{[]string{"--method", "linear", "--models", all, "--out", out, "--max-memory", "lots"}, 2, "--max-memory"},
		{[]string{"--method", "linear", "--models", all, "--out", out, "--max-memory", "1MiB"}, 1, "memory budget of 1.0 MiB is too small"},
		{[]string{"--method", "linear", "--models", all, "--out", models[0], "--force"}, 1, "overlaps input"},
	} {
		stdout, stderr, code := runCLI(t, append([]string{"merge"}, tc.args...)...)
		if code != tc.code || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("%v: exit %d (want %d), stderr %q (want one line with %q), stdout %q", tc.args, code, tc.code, stderr, tc.want, stdout)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v left %s behind", tc.args, out)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "256MiB": 256 << 20, "2GiB": 2 << 30, "5GB": 5e9, "1.5k": 1500, "10 MB": 10e6} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "5XB", "1e30GB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded", bad)
		}
	}
}

func TestParamFlags(t *testing.T) {
	var p paramFlags
	for _, s := range []string{"t=0.5", "normalize=false", "rescale_mode=l1", "lambda=1,0.5,0.25"} {
		if err := p.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if p[0].value != 0.5 || p[1].value != false || p[2].value != "l1" || len(p[3].value.([]float64)) != 3 {
		t.Errorf("%+v", p)
	}
	if err := p.Set("novalue"); err == nil {
		t.Error("accepted a flag without =")
	}
}

// TestMergeCLIMultiMerge runs a file of two merges through --config: the named one goes to
// --intermediate-dir (kept, and reused by a second run), the final one to --out and uses it.
func TestMergeCLIMultiMerge(t *testing.T) {
	dir, base, models := mergeFixture(t)
	cfgPath := filepath.Join(dir, "multi.yaml")
	yml := fmt.Sprintf("name: pair\nmerge_method: linear\nmodels: [%s, %s]\ndtype: float32\n---\nmerge_method: task_arithmetic\nbase_model: %s\nmodels: [pair, %s]\ndtype: float32\n", models[0], models[1], base, models[2])
	if err := os.WriteFile(cfgPath, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	out, inter := filepath.Join(dir, "merged"), filepath.Join(dir, "inter")
	stdout, stderr, code := runCLI(t, "merge", "--config", cfgPath, "--out", out, "--intermediate-dir", inter, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "wrote "+filepath.Join(inter, "pair")) || !strings.Contains(stdout, "wrote "+out) {
		t.Errorf("stdout:\n%s", stdout)
	}
	got := readF32(t, out, "model.norm.weight")
	b, p, m2 := readF32(t, base, "model.norm.weight"), readF32(t, filepath.Join(inter, "pair"), "model.norm.weight"), readF32(t, models[2], "model.norm.weight")
	for i := range got {
		want := float64(b[i]) + (float64(p[i]) - float64(b[i])) + (float64(m2[i]) - float64(b[i]))
		if d := float64(got[i]) - want; d > 1e-6 || d < -1e-6 {
			t.Fatalf("element %d: %v, want %v", i, got[i], want)
		}
	}
	// Again with the same intermediate folder: the named merge is there, so it is not redone.
	stdout, stderr, code = runCLI(t, "merge", "--config", cfgPath, "--out", filepath.Join(dir, "merged1"), "--intermediate-dir", inter, "--quiet")
	if code != 0 || strings.Contains(stdout, "wrote "+filepath.Join(inter, "pair")) {
		t.Errorf("rerun (exit %d, %s) merged pair again:\n%s", code, stderr, stdout)
	}
	// Without --intermediate-dir the named merges live in a temporary folder, removed after.
	out2 := filepath.Join(dir, "merged2")
	if _, stderr, code := runCLI(t, "merge", "--config", cfgPath, "--out", out2, "--quiet"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "intermediate") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func readF32(t *testing.T, dir, name string) []float32 {
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
