package llama

import (
	"encoding/json"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

// python is the interpreter with PyTorch (Debian's python3-torch lives under /usr/bin).
const python = "/usr/bin/python3"

// referenceFamilies are the architectures checked against the PyTorch transcription of their
// transformers modeling code: each family's own features, on a config small enough to test.
func referenceFamilies() []struct {
	name string
	tie  bool
	edit func(c *tensor.Config)
} {
	set := func(c *tensor.Config, kv ...any) {
		for i := 0; i < len(kv); i += 2 {
			if err := c.SetExtra(kv[i].(string), kv[i+1]); err != nil {
				panic(err)
			}
		}
	}
	return []struct {
		name string
		tie  bool
		edit func(c *tensor.Config)
	}{
		{"llama", false, func(c *tensor.Config) {}},
		{"llama tied", true, func(c *tensor.Config) {}},
		{"llama 3.1 rope scaling, attention bias", false, func(c *tensor.Config) {
			// A short original context, so every frequency band of llama3 scaling is used.
			set(c, "rope_scaling", map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16}, "attention_bias", true)
		}},
		{"llama linear rope scaling", false, func(c *tensor.Config) {
			set(c, "rope_scaling", map[string]any{"type": "linear", "factor": 4.0})
		}},
		{"mistral sliding window", false, func(c *tensor.Config) {
			c.ModelType = "mistral"
			set(c, "sliding_window", 9) // shorter than the batch: the window matters
		}},
		{"qwen2 tied", true, func(c *tensor.Config) { c.ModelType = "qwen2" }},
		{"qwen3 head_dim", true, func(c *tensor.Config) {
			c.ModelType = "qwen3"
			set(c, "head_dim", 12) // not hidden_size / num_attention_heads
		}},
	}
}

// TestAgainstPyTorch compares logits, per-sample losses and every gradient with a plain
// PyTorch implementation of transformers' modeling code for each family
// (testdata/llama_reference.py) on the same weights and batch. llm.c accepts 1e-2 on
// logits/loss and 2e-2 on gradients; we hold ourselves to much less. Skipped when PyTorch is
// not installed.
func TestAgainstPyTorch(t *testing.T) {
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("PyTorch not available under %s: %v", python, err)
	}
	for _, fam := range referenceFamilies() {
		tie := fam.tie
		cfg := tensor.NewLlamaConfig(32, 48, 2, 4, 2, 37, 64)
		cfg.TieWordEmbeddings = tie
		cfg.RMSNormEps = 1e-5
		cfg.RopeTheta = 500
		fam.edit(cfg)
		m := mustNew(t, cfg, 21, nil)
		rng := seeded.New(22)
		for _, p := range m.Params() { // weights of a trained model's size, not the 0.02 init
			for i := range cpu.F32(p.Value) {
				cpu.F32(p.Value)[i] += float32(rng.Normal() * 0.2)
			}
		}
		b := randomBatch(rng, 3, 41, cfg.VocabSize) // 41 positions: two causal blocks
		w := []float32{0.5, 1, 2}

		dir := t.TempDir()
		ck := filepath.Join(dir, "model")
		if err := m.Save(ck, SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		bj, _ := json.Marshal(map[string]any{"B": b.B, "T": b.T, "inputs": b.Inputs, "targets": b.Targets, "weights": w})
		if err := os.WriteFile(filepath.Join(dir, "batch.json"), bj, 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "ref.safetensors")
		cmd := exec.Command(python, "testdata/llama_reference.py", ck, filepath.Join(dir, "batch.json"), out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("reference script: %v\n%s", err, msg)
		}
		ref, _, err := tensor.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		refs := map[string][]float32{}
		for _, r := range ref {
			v, err := r.Float32()
			if err != nil {
				t.Fatal(err)
			}
			refs[r.Name] = v
		}

		logits, err := m.Logits(b)
		if err != nil {
			t.Fatal(err)
		}
		losses, err := m.ForwardBackward(b, w)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: logits max abs diff %.2g", fam.name, maxAbsDiff(logits, refs["logits"]))
		t.Logf("%s: losses %v, PyTorch %v", fam.name, losses, refs["losses"])
		if d := maxAbsDiff(logits, refs["logits"]); d > 1e-4 {
			t.Errorf("%s: logits differ from PyTorch by %.3g", fam.name, d)
		}
		if d := maxAbsDiff(losses, refs["losses"]); d > 1e-5 {
			t.Errorf("%s: losses differ from PyTorch by %.3g: %v vs %v", fam.name, d, losses, refs["losses"])
		}
		if _, extra := refs["grad.lm_head.weight"]; extra == tie {
			t.Fatalf("tie=%v: reference has lm_head gradient = %v", tie, extra)
		}
		worst := 0.0
		for _, p := range m.Params() {
			r, ok := refs["grad."+p.Name]
			if !ok {
				t.Fatalf("reference has no gradient for %s", p.Name)
			}
			// Relative to the tensor's largest gradient: tiny entries carry rounding only.
			scale := 0.0
			for _, v := range r {
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			rel := maxAbsDiff(cpu.F32(p.Grad), r) / scale
			worst = math.Max(worst, rel)
			if rel > 1e-4 {
				t.Errorf("%s: %s: gradient differs from PyTorch by %.3g of its largest entry", fam.name, p.Name, rel)
			}
		}
		t.Logf("%s: worst gradient difference %.2g of the tensor's largest entry over %d tensors", fam.name, worst, len(m.Params()))
	}
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}
