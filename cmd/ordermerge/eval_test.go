package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg.json")
	if err := os.WriteFile(cfg, []byte(`{"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 272, "max_position_embeddings": 128}`), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m")
	if _, errs, code := runCLI(t, "train", "--data", "embedded:arith", "--limit", "16", "--init", cfg, "--epochs", "1", "--out", model, "--quiet"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	results := filepath.Join(dir, "res.jsonl")
	out, errs, code := runCLI(t, "eval", "--model", model, "--data", "arith,embedded:code", "--limit", "5", "--json", "--results", results)
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errs)
	}
	var rows []struct {
		Dataset string  `json:"dataset"`
		N       int     `json:"n"`
		Metric  string  `json:"metric"`
		Loss    float64 `json:"mean_loss"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rows) != 2 || rows[0].Dataset != "arith" || rows[1].Metric != "pass@1" || rows[0].N != 5 || rows[0].Loss <= 0 {
		t.Fatalf("rows %+v", rows)
	}
	b, err := os.ReadFile(filepath.Join(dir, "res-code.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 5 || !strings.Contains(string(b), `"id":"code/test/0000"`) {
		t.Fatalf("per-sample results: %d lines\n%s", n, b)
	}
	_, errs, code = runCLI(t, "eval", "--model", model, "--data", "nope")
	if code != 1 || !strings.Contains(errs, "not an embedded dataset") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("unknown data: exit %d %q", code, errs)
	}
	if _, _, code = runCLI(t, "eval", "--data", "arith"); code != 2 {
		t.Fatalf("missing --model: exit %d", code)
	}
}
