package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/tensor"
)

// TestFamiliesThroughTheCLI: a tiny checkpoint of each Hugging Face family, written with its
// tensor names and config, trains (two order variants), reloads, merges and evaluates
// through the commands a user types.
func TestFamiliesThroughTheCLI(t *testing.T) {
	for _, fam := range []struct {
		name  string
		extra map[string]any
		must  string // a tensor name only this family has ("" for none)
	}{
		{"llama", map[string]any{"rope_scaling": map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 32}}, ""},
		{"mistral", map[string]any{"sliding_window": 24, "head_dim": 8}, ""},
		{"qwen2", map[string]any{"tie_word_embeddings": true}, "model.layers.0.self_attn.q_proj.bias"},
		{"qwen3", map[string]any{"head_dim": 12, "tie_word_embeddings": true}, "model.layers.0.self_attn.q_norm.weight"},
	} {
		t.Run(fam.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tensor.NewLlamaConfig(16, 32, 1, 2, 1, 262, 128)
			cfg.ModelType = fam.name
			for k, v := range fam.extra {
				if k == "tie_word_embeddings" {
					cfg.TieWordEmbeddings = true
					continue
				}
				if err := cfg.SetExtra(k, v); err != nil {
					t.Fatal(err)
				}
			}
			m, err := llama.New(cfg, 3, llama.Options{})
			if err != nil {
				t.Fatal(err)
			}
			base := filepath.Join(dir, "base")
			if err := m.Save(base, llama.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			variants := filepath.Join(dir, "variants")
			if _, errs, code := runCLI(t, "train", "--base", base, "--data", "embedded:arith", "--limit", "16", "--epochs", "1", "--batch-size", "4", "--variants", "2", "--out", variants, "--quiet"); code != 0 {
				t.Fatalf("train: exit %d: %s", code, errs)
			}
			v0, v1 := filepath.Join(variants, "variant-0"), filepath.Join(variants, "variant-1")
			back, err := llama.Load(v0, llama.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if c := back.HFConfig(); c.ModelType != fam.name {
				t.Errorf("the trained checkpoint's model_type is %q", c.ModelType)
			}
			if fam.must != "" {
				found := false
				for _, p := range back.Params() {
					found = found || p.Name == fam.must
				}
				if !found {
					t.Errorf("the checkpoint has no %s", fam.must)
				}
			}
			merged := filepath.Join(dir, "merged")
			if _, errs, code := runCLI(t, "merge", "--method", "linear", "--models", v0+","+v1, "--out", merged); code != 0 {
				t.Fatalf("merge: exit %d: %s", code, errs)
			}
			mm, err := llama.Load(merged, llama.Options{})
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := os.ReadFile(filepath.Join(merged, tensor.ConfigFile))
			var mc map[string]any
			if err := json.Unmarshal(raw, &mc); err != nil || mc["model_type"] != fam.name {
				t.Errorf("merged config.json: model_type %v (%v)", mc["model_type"], err)
			}
			if len(mm.Params()) != len(back.Params()) {
				t.Errorf("merged model has %d tensors, the variants %d", len(mm.Params()), len(back.Params()))
			}
			out, errs, code := runCLI(t, "eval", "--model", merged, "--data", "arith", "--limit", "4", "--json", "--results", "-")
			if code != 0 {
				t.Fatalf("eval: exit %d: %s", code, errs)
			}
			if !strings.Contains(out, `"dataset": "arith"`) && !strings.Contains(out, `"dataset":"arith"`) {
				t.Errorf("eval output: %s", out)
			}
		})
	}
}
