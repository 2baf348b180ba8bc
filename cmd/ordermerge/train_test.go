package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
	"github.com/ordermerge/ordermerge/tokenizer"
)

func tinyInitConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.json")
	cfg := tensor.NewLlamaConfig(16, 32, 1, 2, 1, 262, 128)
	if err := tensor.WriteConfig(path, cfg); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTrainCommandWritesCheckpointRecordsAndLog(t *testing.T) {
	cfg := tinyInitConfig(t)
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--data", "embedded:strings", "--limit", "12", "--init", cfg, "--epochs", "2", "--batch-size", "4", "--micro-batch", "2", "--order-seed", "5", "--order-mode", "fixed", "--out", out}
	stdout, stderr, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "6 steps") || !strings.Contains(stdout, "spearman") {
		t.Errorf("stdout %q", stdout)
	}
	for _, f := range []string{tensor.ConfigFile, tensor.SingleFile, sft.OptimizerFile, sft.TrainerStateFile, sft.RecordsFile, sft.RecordsCSVFile, sft.FinalLossesCSVFile, trainLogFile, imbalanceFile, "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	// The records are what the trainer did: 12 samples x 2 epochs, in the fixed order.
	fh, err := os.Open(filepath.Join(out, sft.RecordsCSVFile))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(fh).ReadAll()
	fh.Close()
	if err != nil || len(rows) != 25 || strings.Join(rows[0], ",") != "step,epoch,position,id,loss" {
		t.Fatalf("records.csv: %d rows, header %v, err %v", len(rows), rows[0], err)
	}
	if rows[1][3] != rows[13][3] || rows[1][2] != "0" || rows[13][1] != "1" {
		t.Errorf("fixed order: epoch 0 starts with %v, epoch 1 with %v", rows[1], rows[13])
	}
	logText, _ := os.ReadFile(filepath.Join(out, trainLogFile))
	if !strings.Contains(string(logText), "step 6/6") || !strings.Contains(string(logText), "order fixed, seed 5") {
		t.Errorf("train.log:\n%s", logText)
	}
	// One run's imbalance.json has the several-variant schema: raw statistics, adjusted ones
	// undefined (they need two variants), no NaN.
	var imb sft.ImbalanceAnalysis
	b, _ := os.ReadFile(filepath.Join(out, imbalanceFile))
	if err := json.Unmarshal(b, &imb); err != nil || len(imb.Variants) != 1 || len(imb.Variants[0].ByEpoch) != 2 || imb.Variants[0].Raw.N != 12 ||
		imb.Variants[0].Adjusted.Undefined == "" || imb.Adjusted.Defined() != 0 || !strings.HasPrefix(imb.Verdict, "raw") || bytes.Contains(b, []byte("NaN")) {
		t.Errorf("imbalance.json: %s (%v)", b, err)
	}
	if strings.Count(stdout, "bin  0 positions") != 1 {
		t.Errorf("the bin table is not printed once: %q", stdout)
	}
	// The output is a model folder others load.
	if _, err := llama.Load(out, llama.Options{}); err != nil {
		t.Fatal(err)
	}
	model1, _ := os.ReadFile(filepath.Join(out, tensor.SingleFile))

	// Running again finds the finished run and leaves its model alone; a changed setting is
	// refused with a hint; --overwrite starts over and reproduces the same bytes.
	if _, stderr, code := runCLI(t, args...); code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	_, stderr, code = runCLI(t, append(args, "--lr", "0.5")...)
	if code != 1 || !strings.Contains(stderr, "lr") || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("changed lr: exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, append(args, "--overwrite")...); code != 0 {
		t.Fatalf("overwrite: exit %d: %s", code, stderr)
	}
	model2, _ := os.ReadFile(filepath.Join(out, tensor.SingleFile))
	if !bytes.Equal(model1, model2) {
		t.Error("the same command gave different model bytes")
	}

	// The output serves as the base of a further fine-tuning (its tokenizer comes along).
	next := filepath.Join(t.TempDir(), "next")
	if _, stderr, code := runCLI(t, "train", "--data", "embedded:strings", "--limit", "8", "--base", out, "--epochs", "1", "--batch-size", "4", "--out", next, "--quiet"); code != 0 {
		t.Fatalf("--base: exit %d: %s", code, stderr)
	}
	model3, _ := os.ReadFile(filepath.Join(next, tensor.SingleFile))
	if len(model3) != len(model1) || bytes.Equal(model3, model1) {
		t.Error("training from --base did not produce an updated model of the same shape")
	}
}

func TestTrainCommandVariants(t *testing.T) {
	cfg := tinyInitConfig(t)
	out := filepath.Join(t.TempDir(), "vars")
	stdout, stderr, code := runCLI(t, "train", "--data", "embedded:arith", "--limit", "8", "--init", cfg, "--epochs", "1", "--batch-size", "4", "--variants", "2", "--order-seed", "3", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "variant-1 (order seed 4)") || !strings.Contains(stdout, "2 variants") || !strings.Contains(stdout, "verdict: difficulty-adjusted, pooled over 2 variants") {
		t.Errorf("stdout %q", stdout)
	}
	var imb sft.ImbalanceAnalysis
	raw, _ := os.ReadFile(filepath.Join(out, imbalanceFile))
	if err := json.Unmarshal(raw, &imb); err != nil || len(imb.Variants) != 2 || imb.Adjusted.Defined() != 2 || imb.Variants[1].OrderSeed != 4 ||
		imb.Variants[0].Adjusted.Permutations != 1000 || math.IsNaN(imb.Adjusted.P) || math.IsNaN(imb.RawLast.MeanSpearman) {
		t.Errorf("imbalance.json: %v %s", err, raw)
	}
	// The long-format records: one row per variant and sample; the adjusted loss of variant 0
	// is its loss minus variant 1's (K = 2).
	rows, err := csv.NewReader(strings.NewReader(readFile(t, filepath.Join(out, adjustedFile)))).ReadAll()
	if err != nil || len(rows) != 17 || strings.Join(rows[0], ",") != "variant,order_seed,id,first_position,last_position,final_loss,adjusted_loss" {
		t.Fatalf("%s: %v %v", adjustedFile, err, rows)
	}
	loss := map[string]float64{}
	for _, r := range rows[1:] {
		l, _ := strconv.ParseFloat(r[5], 64)
		loss[r[0]+r[2]] = l
	}
	for _, r := range rows[1:9] {
		a, _ := strconv.ParseFloat(r[6], 64)
		if want := loss["0"+r[2]] - loss["1"+r[2]]; r[0] != "0" || math.Abs(a-want) > 1e-6 {
			t.Errorf("row %v: adjusted %g, want %g", r, a, want)
		}
	}
	// Each variant's folder has its own train.log (its steps and its result line).
	for i := 0; i < 2; i++ {
		l, err := os.ReadFile(filepath.Join(sft.VariantDir(out, i), trainLogFile))
		if err != nil || !strings.Contains(string(l), fmt.Sprintf("variant-%d (order seed %d): mean final loss", i, 3+i)) || !strings.Contains(string(l), "step 2/2") {
			t.Errorf("variant %d train.log: %v\n%s", i, err, l)
		}
	}
	a, _ := os.ReadFile(filepath.Join(sft.VariantDir(out, 0), tensor.SingleFile))
	b, _ := os.ReadFile(filepath.Join(sft.VariantDir(out, 1), tensor.SingleFile))
	if len(a) == 0 || bytes.Equal(a, b) {
		t.Error("variants missing or identical")
	}
	for i := 0; i < 2; i++ {
		if _, err := llama.Load(sft.VariantDir(out, i), llama.Options{}); err != nil {
			t.Error(err)
		}
	}
}

func TestTrainCommandDatasetFile(t *testing.T) {
	cfg := tinyInitConfig(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny_alpaca.jsonl")
	lines := `{"instruction": "Reverse the word.", "input": "abc", "output": "cba"}
{"instruction": "Reverse the word.", "input": "dog", "output": "god"}
{"instruction": "Reverse the word.", "input": "stop", "output": "pots"}
not json at all
{"instruction": "Say hi.", "input": "", "output": "hi"}
`
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	args := []string{"train", "--data", path, "--init", cfg, "--epochs", "1", "--batch-size", "2", "--out", out, "--quiet"}
	if _, stderr, code := runCLI(t, args...); code != 1 || !strings.Contains(stderr, "tiny_alpaca.jsonl:4") {
		t.Errorf("malformed line: exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, append(args, "--skip-bad")...); code != 0 {
		t.Fatalf("--skip-bad: exit %d: %s", code, stderr)
	}
	final, err := sft.ReadFinalLosses(filepath.Join(out, sft.FinalLossesFile))
	if err != nil || len(final) != 4 || final[0].ID != "tiny_alpaca.jsonl:1" {
		t.Errorf("final losses %+v, err %v", final, err)
	}
	logText, _ := os.ReadFile(filepath.Join(out, trainLogFile))
	if !strings.Contains(string(logText), "1 malformed records skipped") {
		t.Errorf("train.log does not mention the skipped record:\n%s", logText)
	}
}

func TestTrainCommandUsageErrors(t *testing.T) {
	cfg := tinyInitConfig(t)
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"no data":      {"train", "--init", cfg, "--out", dir},
		"no out":       {"train", "--data", "embedded:arith", "--init", cfg},
		"both models":  {"train", "--data", "embedded:arith", "--init", cfg, "--base", dir, "--out", dir},
		"bad mode":     {"train", "--data", "embedded:arith", "--init", cfg, "--out", dir, "--order-mode", "sorted"},
		"bad dataset":  {"train", "--data", "embedded:nope", "--init", cfg, "--out", dir},
		"stray arg":    {"train", "--data", "embedded:arith", "--init", cfg, "--out", dir, "extra"},
		"bad variants": {"train", "--data", "embedded:arith", "--init", cfg, "--out", dir, "--variants", "-1"},
	} {
		if _, stderr, code := runCLI(t, args...); code != 2 {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, stderr)
		}
	}
	// A folder with someone else's files is not written into.
	foreign := filepath.Join(dir, "foreign")
	os.MkdirAll(foreign, 0o755)
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("x"), 0o644)
	_, stderr, code := runCLI(t, "train", "--data", "embedded:arith", "--limit", "4", "--init", cfg, "--out", foreign)
	if code != 1 || !strings.Contains(stderr, "notes.txt") {
		t.Errorf("foreign folder: exit %d: %s", code, stderr)
	}
	if entries, _ := os.ReadDir(foreign); len(entries) != 1 {
		t.Errorf("foreign folder now holds %d entries", len(entries))
	}
}

func TestTrainCommandChatTemplate(t *testing.T) {
	// The byte-level tokenizer has no chat template: --template chat uses the fallback layout,
	// and every assistant turn of the multi-turn chats learns.
	cfg := tinyInitConfig(t)
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--data", "../../data/testdata/chat.jsonl", "--template", "chat", "--init", cfg, "--epochs", "1", "--batch-size", "2", "--max-seq-len", "400", "--out", out, "--quiet"}
	if _, stderr, code := runCLI(t, args...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	final, err := sft.ReadFinalLosses(filepath.Join(out, sft.FinalLossesFile))
	if err != nil || len(final) == 0 {
		t.Fatalf("final losses %+v, err %v", final, err)
	}
	if _, stderr, code := runCLI(t, "train", "--data", "embedded:strings", "--template", "nope", "--init", cfg, "--out", filepath.Join(t.TempDir(), "x")); code != 2 || !strings.Contains(stderr, "chat") {
		t.Errorf("unknown template: exit %d: %s (want the names, chat among them)", code, stderr)
	}
}

// --init without vocab_size takes the tokenizer's; a larger one is said in train.log and on
// the terminal; a smaller one is refused.
func TestTrainInitTakesTheTokenizersVocabulary(t *testing.T) {
	dir := t.TempDir()
	write := func(name, extra string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(`{"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 128`+extra+`}`), 0o644)
		return p
	}
	out := filepath.Join(dir, "partial")
	if _, stderr, code := runCLI(t, "train", "--data", "embedded:arith", "--limit", "4", "--init", write("partial.json", ""), "--epochs", "1", "--out", out, "--quiet"); code != 0 {
		t.Fatalf("partial config: exit %d: %s", code, stderr)
	}
	cfg, err := tensor.ReadConfig(filepath.Join(out, tensor.ConfigFile))
	if err != nil || cfg.VocabSize != tokenizer.ByteLevel().VocabSize() {
		t.Fatalf("trained config %+v, %v", cfg, err)
	}
	out = filepath.Join(dir, "large")
	_, stderr, code := runCLI(t, "train", "--data", "embedded:arith", "--limit", "4", "--init", write("large.json", `, "vocab_size": 300`), "--epochs", "1", "--out", out)
	logText, _ := os.ReadFile(filepath.Join(out, trainLogFile))
	if code != 0 || !strings.Contains(stderr, "38 embedding rows will never be used") || !strings.Contains(string(logText), "vocab_size 300") {
		t.Errorf("larger vocab_size: exit %d: %s\nlog: %s", code, stderr, logText)
	}
	_, stderr, code = runCLI(t, "train", "--data", "embedded:arith", "--limit", "4", "--init", write("small.json", `, "vocab_size": 100`), "--epochs", "1", "--out", filepath.Join(dir, "small"))
	if code != 1 || !strings.Contains(stderr, "vocab_size is 100") {
		t.Errorf("smaller vocab_size: exit %d: %s", code, stderr)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
