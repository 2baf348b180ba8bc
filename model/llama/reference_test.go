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

// TestAgainstPyTorch compares logits, per-sample losses and every gradient with a plain
// PyTorch implementation of transformers' Llama (testdata/llama_reference.py) on the same
// weights and batch. llm.c accepts 1e-2 on logits/loss and 2e-2 on gradients; we hold
// ourselves to much less. Skipped when PyTorch is not installed.
func TestAgainstPyTorch(t *testing.T) {
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("PyTorch not available under %s: %v", python, err)
	}
	for _, tie := range []bool{false, true} {
		cfg := tensor.NewLlamaConfig(32, 48, 2, 4, 2, 37, 64)
		cfg.TieWordEmbeddings = tie
		cfg.RMSNormEps = 1e-5
		cfg.RopeTheta = 500
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
		t.Logf("tie=%v: logits max abs diff %.2g", tie, maxAbsDiff(logits, refs["logits"]))
		t.Logf("tie=%v: losses %v, PyTorch %v", tie, losses, refs["losses"])
		if d := maxAbsDiff(logits, refs["logits"]); d > 1e-4 {
			t.Errorf("logits differ from PyTorch by %.3g", d)
		}
		if d := maxAbsDiff(losses, refs["losses"]); d > 1e-5 {
			t.Errorf("losses differ from PyTorch by %.3g: %v vs %v", d, losses, refs["losses"])
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
				t.Errorf("%s: gradient differs from PyTorch by %.3g of its largest entry", p.Name, rel)
			}
		}
		t.Logf("tie=%v: worst gradient difference %.2g of the tensor's largest entry", tie, worst)
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
