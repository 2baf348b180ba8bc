package sft_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
)

// python is the interpreter with PyTorch (Debian's python3-torch lives under /usr/bin).
const python = "/usr/bin/python3"

// TestRunMatchesPyTorch trains a small Llama for 10 AdamW steps — warmup then cosine decay,
// global-norm clipping that cuts in, uneven micro-batches with gradient accumulation, masked
// prompts and padding — and repeats the same run in plain PyTorch (testdata/
// train_reference.py: torch.optim.AdamW, clip_grad_norm_), step by step: every step's loss,
// gradient norm and learning rate, and the final weights must agree.
func TestRunMatchesPyTorch(t *testing.T) {
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("PyTorch not available under %s: %v", python, err)
	}
	cfg := tensor.NewLlamaConfig(32, 48, 2, 4, 2, 41, 32)
	cfg.RMSNormEps = 1e-5
	m, err := llama.New(cfg, 3, llama.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ck := filepath.Join(dir, "init")
	if err := m.Save(ck, llama.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	rng := seeded.New(4)
	var examples []data.Example
	for i := 0; i < 20; i++ {
		toks := make([]int32, 6+rng.Intn(9))
		for j := range toks {
			toks[j] = int32(1 + rng.Intn(cfg.VocabSize-1))
		}
		examples = append(examples, data.Example{ID: fmt.Sprintf("s%02d", i), Tokens: toks, PromptLen: 2 + rng.Intn(4)})
	}
	tc := sft.Config{Epochs: 2, BatchSize: 4, MicroBatchSize: 3, LR: 1e-2, MinLR: 1e-3, WarmupSteps: 3,
		Schedule: sft.ScheduleCosine, WeightDecay: 0.1, ClipNorm: 1.95, OrderSeed: 9}
	res, err := sft.Train(context.Background(), m, examples, tc)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 10 {
		t.Fatalf("%d steps, want 10", res.Steps)
	}
	// The visiting order of every step, from the records.
	steps := make([][]string, res.Steps)
	recs := append([]sft.StepRecord(nil), res.Records...)
	sort.SliceStable(recs, func(i, j int) bool {
		return recs[i].Step < recs[j].Step || recs[i].Step == recs[j].Step && recs[i].Position < recs[j].Position
	})
	for _, r := range recs {
		steps[r.Step-1] = append(steps[r.Step-1], r.ID)
	}
	type sample struct {
		ID        string  `json:"id"`
		Tokens    []int32 `json:"tokens"`
		PromptLen int     `json:"prompt_len"`
	}
	var samples []sample
	for _, ex := range examples {
		samples = append(samples, sample{ex.ID, ex.Tokens, ex.PromptLen})
	}
	run, _ := json.Marshal(map[string]any{"config": res.Config, "samples": samples, "steps": steps})
	if err := os.WriteFile(filepath.Join(dir, "run.json"), run, 0o644); err != nil {
		t.Fatal(err)
	}
	outT, outJ := filepath.Join(dir, "final.safetensors"), filepath.Join(dir, "steps.json")
	if msg, err := exec.Command(python, "testdata/train_reference.py", ck, filepath.Join(dir, "run.json"), outT, outJ).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, msg)
	}
	var ref []struct {
		Step     int     `json:"step"`
		Loss     float64 `json:"loss"`
		GradNorm float64 `json:"grad_norm"`
		LR       float64 `json:"lr"`
	}
	b, err := os.ReadFile(outJ)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil || len(ref) != res.Steps {
		t.Fatalf("reference steps: %v (%d)", err, len(ref))
	}
	clipped := 0
	for i, got := range res.StepLosses {
		r := ref[i]
		if math.Abs(got.LR-r.LR) > 1e-12*r.LR {
			t.Errorf("step %d: learning rate %.10g, PyTorch run %.10g", got.Step, got.LR, r.LR)
		}
		if math.Abs(got.Loss-r.Loss) > 2e-5*r.Loss {
			t.Errorf("step %d: loss %.7f, PyTorch %.7f", got.Step, got.Loss, r.Loss)
		}
		if math.Abs(got.GradNorm-r.GradNorm) > 2e-4*r.GradNorm {
			t.Errorf("step %d: gradient norm %.7f, PyTorch %.7f", got.Step, got.GradNorm, r.GradNorm)
		}
		if got.GradNorm > tc.ClipNorm {
			clipped++
		}
		t.Logf("step %2d  lr %.5f  loss %.6f / %.6f  grad norm %.5f / %.5f", got.Step, got.LR, got.Loss, r.Loss, got.GradNorm, r.GradNorm)
	}
	if clipped == 0 || clipped == res.Steps {
		t.Errorf("clipping cut in at %d of %d steps; the test needs both kinds", clipped, res.Steps)
	}
	finalList, _, err := tensor.ReadFile(outT)
	if err != nil {
		t.Fatal(err)
	}
	final := map[string]*tensor.Tensor{}
	for _, ft := range finalList {
		final[ft.Name] = ft
	}
	// Adam divides by sqrt(v)+eps: an element whose gradient is of eps's size (1e-8) moves
	// by an amount that a last-bit difference in that tiny gradient changes visibly. So nearly
	// every element must agree to float32 accumulation error, and the rare eps-bound ones to
	// a fraction of one step's size.
	worst, total, loose := 0.0, 0, 0
	for _, p := range m.Params() {
		got, err := p.Read()
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(got))
		rt := final[p.Name]
		if rt == nil {
			t.Fatalf("PyTorch run lacks %s", p.Name)
		}
		if err := tensor.DecodeFloat32(want, rt.Data, rt.DType); err != nil {
			t.Fatal(err)
		}
		scale := 0.0
		for _, v := range want {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for i := range got {
			d := math.Abs(float64(got[i]-want[i])) / scale
			worst = math.Max(worst, d)
			total++
			if d > 2e-5 {
				loose++
			}
		}
	}
	if loose > total/1000 || worst > 0.2*tc.LR {
		t.Errorf("final weights: %d of %d elements differ by more than 2e-5 of their tensor's scale, worst %.3g", loose, total, worst)
	}
	t.Logf("final weights: %d of %d elements beyond 2e-5 of their tensor's scale; worst %.3g", loose, total, worst)
}
