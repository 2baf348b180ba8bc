package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/sft"
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

// A model's per-sample losses joined to the variants' positions: evaluated on the variants'
// own training data, variant 0's losses are its final losses, sample by sample, and the
// statistics are beside the CSV.
func TestEvalPositionsJoinsLossesToTheVariants(t *testing.T) {
	cfg := tinyInitConfig(t)
	dir := t.TempDir()
	vars := filepath.Join(dir, "vars")
	if _, errs, code := runCLI(t, "train", "--data", "embedded:arith", "--limit", "12", "--init", cfg, "--epochs", "2", "--batch-size", "4", "--variants", "2", "--out", vars, "--quiet"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	out := filepath.Join(dir, "joined.csv")
	_, errs, code := runCLI(t, "eval", "--model", sft.VariantDir(vars, 0), "--data", "embedded:arith", "--split", "train", "--limit", "12", "--results", "-", "--positions", vars, "--losses-out", out)
	if code != 0 || !strings.Contains(errs, "joined to 2 variants' positions") || !strings.Contains(errs, "adjusted") {
		t.Fatalf("eval --positions: exit %d: %s", code, errs)
	}
	fh, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(fh).ReadAll()
	fh.Close()
	if err != nil || len(rows) != 13 || strings.Join(rows[0], ",") != "id,loss,first_position_0,last_position_0,adjusted_loss_0,first_position_1,last_position_1,adjusted_loss_1" {
		t.Fatalf("%s: %v %v", out, err, rows)
	}
	final, err := sft.ReadFinalLosses(filepath.Join(sft.VariantDir(vars, 0), sft.FinalLossesFile))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := sft.ReadFinalLosses(filepath.Join(sft.VariantDir(vars, 1), sft.FinalLossesFile))
	byID := map[string]sft.FinalLoss{}
	for _, f := range final {
		byID[f.ID] = f
	}
	otherByID := map[string]sft.FinalLoss{}
	for _, f := range other {
		otherByID[f.ID] = f
	}
	for _, r := range rows[1:] {
		f, ok := byID[r[0]]
		loss, _ := strconv.ParseFloat(r[1], 64)
		adj, _ := strconv.ParseFloat(r[4], 64)
		if !ok || math.Abs(loss-f.Loss) > 1e-4*math.Max(1, f.Loss) || r[2] != strconv.Itoa(f.FirstPosition) || r[5] != strconv.Itoa(otherByID[r[0]].FirstPosition) {
			t.Fatalf("row %v: variant 0's final loss %+v", r, f)
		}
		// Adjusted against variant 0: the model's loss minus the other variant's.
		if math.Abs(adj-(loss-otherByID[r[0]].Loss)) > 1e-9 {
			t.Fatalf("row %v: adjusted %g, want %g", r, adj, loss-otherByID[r[0]].Loss)
		}
	}
	var mi sft.ModelImbalance
	b, _ := os.ReadFile(filepath.Join(dir, "joined.json"))
	// Against variant 1's positions the reference is variant 0's loss, the model's own: the
	// residuals are all zero and that statistic is undefined, said so.
	if err := json.Unmarshal(b, &mi); err != nil || len(mi.PerVariant) != 2 || mi.Adjusted.Defined() != 1 || mi.N != 12 ||
		!strings.Contains(mi.PerVariant[1].Adjusted.Undefined, "all residual losses are equal") || mi.PerVariant[0].Adjusted.Undefined != "" {
		t.Fatalf("joined.json: %v %s", err, b)
	}
	// Other data than the variants': said, with what to give instead.
	_, errs, code = runCLI(t, "eval", "--model", sft.VariantDir(vars, 0), "--data", "embedded:arith", "--limit", "12", "--results", "-", "--positions", vars, "--losses-out", out)
	if code != 1 || !strings.Contains(errs, "--split train") {
		t.Errorf("test split against training positions: exit %d: %s", code, errs)
	}
}

// A dataset file is not called "test": its results are named by the file.
func TestEvalNamesAFileByItsSplitOnlyWhenGiven(t *testing.T) {
	cfg := tinyInitConfig(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "m")
	file := filepath.Join(dir, "mine.jsonl")
	os.WriteFile(file, []byte(strings.Repeat(`{"prompt": "Say a.", "completion": " a"}`+"\n", 3)), 0o644)
	if _, errs, code := runCLI(t, "train", "--data", file, "--init", cfg, "--epochs", "1", "--out", model, "--quiet"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	out, errs, code := runCLI(t, "eval", "--model", model, "--data", file, "--results", "-")
	if code != 0 || !strings.Contains(out, "mine") || strings.Contains(out, "test") || !strings.Contains(out, "file") {
		t.Errorf("eval of a file: exit %d: %s%s", code, out, errs)
	}
	// Not a terminal: one progress line per dataset, no carriage returns.
	if strings.Contains(errs, "\r") || strings.Count(errs, "mine: 3/3") != 1 {
		t.Errorf("progress on a pipe: %q", errs)
	}
	out, _, _ = runCLI(t, "eval", "--model", model, "--data", file, "--split", "train", "--results", "-")
	if !strings.Contains(out, "train") {
		t.Errorf("--split train: %s", out)
	}
}
