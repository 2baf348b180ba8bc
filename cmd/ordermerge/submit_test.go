package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/cluster"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/study"
	"github.com/ordermerge/ordermerge/tensor"
)

func TestSubmitSlurmDryRunWritesNothing(t *testing.T) {
	cfg := tinyInitConfig(t)
	out := filepath.Join(t.TempDir(), "run")
	wd, _ := os.Getwd()
	rel, _ := filepath.Rel(wd, cfg)
	stdout, stderr, code := runCLI(t, "submit", "slurm", "--data", "embedded:arith", "--init", rel, "--epochs", "2", "--lr", "0.002",
		"--variants", "3", "--order-seed", "7", "--out", out, "--partition", "gpu", "--gres", "gpu:2", "--time", "1:00:00",
		"--sbatch=--mail-type=END", "--binary", "/opt/bin/ordermerge", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"#SBATCH --array=0-2\n", "#SBATCH --partition=gpu\n", "#SBATCH --gres=gpu:2\n", "#SBATCH --mail-type=END\n",
		"  0) seed=7 ;;\n  1) seed=8 ;;\n  2) seed=9 ;;\n",
		"exec /opt/bin/ordermerge train --checkpoint-every=50 --data=embedded:arith --epochs=2 --init=" + cfg + " --lr=0.002 --order-seed \"$seed\" --out " + out + "/\"variant-$task\"\n",
		"exec /opt/bin/ordermerge finish " + out + "\n",
		"--dependency=afterok:ARRAY_0:...:ARRAY_2 --kill-on-invalid-dep=no",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "add --device cuda") {
		t.Errorf("a GPU allocation without train --device should be noted: %q", stderr)
	}
	// With --device, the tasks get it (as every train flag) and so does the finishing job.
	stdout, stderr, code = runCLI(t, "submit", "slurm", "--data", "embedded:arith", "--init", cfg, "--variants", "2", "--out", out,
		"--gres", "gpu:1", "--device", "cuda", "--binary", "/opt/bin/ordermerge", "--dry-run")
	if code != 0 || !strings.Contains(stdout, " --device=cuda ") || !strings.Contains(stdout, "exec /opt/bin/ordermerge finish --device=cuda "+out+"\n") {
		t.Errorf("--device cuda: exit %d %s\n%s", code, stderr, stdout)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("--dry-run created %s", out)
	}
}

func TestSubmitUsageErrors(t *testing.T) {
	cfg := tinyInitConfig(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "d.jsonl")
	os.WriteFile(data, []byte(`{"instruction": "a", "output": "b"}`+"\n"), 0o644)
	base := []string{"--init", cfg, "--out", filepath.Join(dir, "o"), "--dry-run"}
	for want, args := range map[string][]string{
		"which scheduler":              {"submit"},
		"unknown scheduler \"pbs\"":    {"submit", "pbs"},
		"--overwrite does not go":      append([]string{"submit", "slurm", "--data", "embedded:arith", "--variants", "2", "--overwrite"}, base...),
		"number of order variants":     append([]string{"submit", "slurm", "--data", "embedded:arith"}, base...),
		"--k 3 and --variants 2":       append([]string{"submit", "slurm", "--data", "embedded:arith", "--variants", "2", "--k", "3"}, base...),
		"give the data to score":       append([]string{"submit", "slurm", "--data", data, "--variants", "2"}, base...),
		"--eval-data":                  append([]string{"submit", "slurm", "--data", "embedded:arith", "--variants", "2", "--eval-data", filepath.Join(dir, "none.jsonl")}, base...),
		"--methods":                    append([]string{"submit", "slurm", "--data", "embedded:arith", "--variants", "2", "--methods", "averaging"}, base...),
		"--base":                       {"submit", "slurm", "--data", "embedded:arith", "--variants", "2", "--base", filepath.Join(dir, "nobase"), "--out", dir + "/o"},
		"the path the pods see":        {"submit", "kubernetes", "--data", "embedded:arith", "--variants", "2", "--init", "cfg.json", "--out", "/data/o", "--image", "i", "--volume-claim", "c"},
		"not under the volume's mount": {"submit", "kubernetes", "--data", "embedded:arith", "--variants", "2", "--init", "/data/cfg.json", "--out", "/scratch/o", "--image", "i", "--volume-claim", "c"},
	} {
		_, stderr, code := runCLI(t, args...)
		if code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", args, code, stderr, want)
		}
	}
}

func TestSubmitKubernetesWritesManifests(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code := runCLI(t, "submit", "kubernetes", "--data", "embedded:arith", "--init", "/data/cfg/tiny.json", "--variants", "2",
		"--out", "/data/runs/a", "--image", "reg/ordermerge:1", "--volume-claim", "shared", "--gpus", "1", "--name", "a", "--manifests", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	train, err1 := os.ReadFile(filepath.Join(dir, cluster.KubeTrainFile))
	finish, err2 := os.ReadFile(filepath.Join(dir, cluster.KubeFinishFile))
	if err1 != nil || err2 != nil || !strings.Contains(string(train), "completionMode: Indexed") || !strings.Contains(string(finish), "/etc/ordermerge/plan.json") {
		t.Fatalf("manifests: %v %v\n%s\n%s", err1, err2, train, finish)
	}
	if !strings.Contains(stdout, "kubectl wait --for=condition=complete --timeout=-1s job/a-train") {
		t.Errorf("stdout: %s", stdout)
	}
}

// trainedPlan trains two variants with the command each array task runs and writes their plan.
func trainedPlan(t *testing.T) *cluster.Plan {
	t.Helper()
	cfg := tinyInitConfig(t)
	out := filepath.Join(t.TempDir(), "run")
	train := []string{"--data=embedded:arith", "--limit=24", "--init=" + cfg, "--init-seed=2", "--epochs=2", "--batch-size=4", "--quiet"}
	p := &cluster.Plan{Out: out, Binary: "ordermerge", TrainArgs: train, K: 2, FirstSeed: 5, Data: "embedded:arith", Init: cfg, InitSeed: 2,
		EvalData: "embedded:arith", TestSize: 5, MergeSeeds: 2,
		Methods: []study.MethodSpec{{Name: "weighted average", Method: "linear"}, {Name: "parameter selection", Method: "parameter_selection"}}}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	if err := p.Save(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < p.K; i++ {
		if _, stderr, code := runCLI(t, p.TrainCommand(i)[1:]...); code != 0 {
			t.Fatalf("variant %d: %s", i, stderr)
		}
	}
	return p
}

// TestFinishAgainstTheCommands runs the finishing step on two variants trained as the array
// tasks train them, and checks what it wrote against the commands a user would run by hand:
// the linear merge against `ordermerge merge`, each variant's score against `ordermerge eval`,
// and each variant's imbalance against the imbalance.json that train wrote.
func TestFinishAgainstTheCommands(t *testing.T) {
	p := trainedPlan(t)
	stdout, stderr, code := runCLI(t, "finish", p.Out)
	if code != 0 {
		t.Fatalf("finish: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "report: "+filepath.Join(p.Out, "report", "report.md")) {
		t.Errorf("stdout: %s", stdout)
	}
	byHand := filepath.Join(t.TempDir(), "linear")
	if _, stderr, code := runCLI(t, "merge", "--method", "linear", "--base", filepath.Join(p.Out, cluster.BaseDir),
		"--models", p.VariantDir(0)+","+p.VariantDir(1), "--out", byHand, "--quiet"); code != 0 {
		t.Fatalf("merge: %s", stderr)
	}
	a, _ := os.ReadFile(filepath.Join(p.Out, "merged", "weighted-average", tensor.SingleFile))
	b, _ := os.ReadFile(filepath.Join(byHand, tensor.SingleFile))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("the finishing job's linear merge differs from ordermerge merge's (%d vs %d bytes)", len(a), len(b))
	}
	for _, seed := range []string{"1", "2"} {
		if _, err := os.Stat(filepath.Join(p.Out, "merged", "parameter-selection-seed-"+seed, tensor.SingleFile)); err != nil {
			t.Errorf("parameter selection seed %s: %v", seed, err)
		}
	}
	res, err := study.ReadResults(filepath.Join(p.Out, "report", study.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	ds := res.Datasets[0]
	if len(ds.Variants) != 2 || len(ds.Merges) != 2 || len(ds.Merges[1].Runs) != 2 || ds.TestSize != 5 || ds.Name != "arith" {
		t.Fatalf("results: %+v", ds)
	}
	for i, v := range ds.Variants {
		evalOut, stderr, code := runCLI(t, "eval", "--model", p.VariantDir(i), "--data", "embedded:arith", "--limit", "5", "--json", "--results", "-")
		if code != 0 {
			t.Fatalf("eval: %s", stderr)
		}
		var rows []struct {
			Accuracy float64 `json:"accuracy"`
			MeanLoss float64 `json:"mean_loss"`
		}
		if err := json.Unmarshal([]byte(evalOut), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("eval --json: %v %s", err, evalOut)
		}
		if rows[0].Accuracy != v.Test.Accuracy || rows[0].MeanLoss != v.Test.MeanLoss {
			t.Errorf("variant %d: report %+v, ordermerge eval %+v", i, v.Test, rows[0])
		}
		var imb sft.ImbalanceAnalysis
		raw, _ := os.ReadFile(filepath.Join(p.VariantDir(i), imbalanceFile))
		if err := json.Unmarshal(raw, &imb); err != nil || len(imb.Variants) != 1 {
			t.Fatalf("%v: %s", err, raw)
		}
		if first := imb.Variants[0]; first.OrderSeed != p.Seed(i) || first.Raw.Spearman != v.Imbalance.Spearman || first.Raw.Gap != v.Imbalance.Gap {
			t.Errorf("variant %d: report imbalance %+v, train's %+v", i, v.Imbalance, first.Raw)
		}
	}
	for _, f := range []string{study.ReportMarkdown, study.ReportHTML, "figures/comparison.png", "figures/imbalance-arith.png"} {
		if _, err := os.Stat(filepath.Join(p.Out, "report", f)); err != nil {
			t.Errorf("report: %v", err)
		}
	}
}

func TestFinishRefusesIncompleteVariant(t *testing.T) {
	p := trainedPlan(t)
	os.Remove(filepath.Join(p.VariantDir(1), sft.FinalLossesFile))
	os.RemoveAll(p.VariantDir(0))
	_, stderr, code := runCLI(t, "finish", p.Out)
	if code != 1 || !strings.Contains(stderr, "variant 1 (order seed 6): "+p.VariantDir(1)+" is incomplete: no final_losses.jsonl") ||
		!strings.Contains(stderr, "variant 0 (order seed 5): "+p.VariantDir(0)+" does not exist") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(p.Out, cluster.MergedDir)); err == nil {
		t.Errorf("a refused finish merged something")
	}
}

// TestTrainWritesProgressFile checks the progress file train keeps for the status command.
func TestTrainWritesProgressFile(t *testing.T) {
	cfg := tinyInitConfig(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "one")
	if _, stderr, code := runCLI(t, "train", "--data", "embedded:arith", "--limit", "8", "--init", cfg, "--epochs", "2", "--batch-size", "4", "--log-every", "1", "--checkpoint-every", "1", "--out", out, "--quiet"); code != 0 {
		t.Fatal(stderr)
	}
	pr, ok, err := cluster.ReadProgress(out)
	if err != nil || !ok || pr.State != cluster.ProgressDone || pr.Step != 4 || pr.TotalSteps != 4 || pr.Epoch != 2 || pr.Loss <= 0 || pr.PID != os.Getpid() {
		t.Errorf("progress: %+v %v %v", pr, ok, err)
	}
	vars := filepath.Join(dir, "vars")
	if _, stderr, code := runCLI(t, "train", "--data", "embedded:arith", "--limit", "8", "--init", cfg, "--epochs", "1", "--batch-size", "4", "--variants", "2", "--out", vars, "--quiet"); code != 0 {
		t.Fatal(stderr)
	}
	for i := 0; i < 2; i++ {
		if pr, ok, _ := cluster.ReadProgress(sft.VariantDir(vars, i)); !ok || pr.State != cluster.ProgressDone || pr.Step != 2 {
			t.Errorf("variant %d progress: %+v", i, pr)
		}
	}
	// A rerun of a finished run keeps its folder valid: progress.json counts as train's, and so
	// does the partial file a process killed while writing it leaves behind.
	os.WriteFile(filepath.Join(out, cluster.ProgressPartialFile), []byte(`{"sta`), 0o644)
	if _, stderr, code := runCLI(t, "train", "--data", "embedded:arith", "--limit", "8", "--init", cfg, "--epochs", "2", "--batch-size", "4", "--out", out, "--quiet"); code != 0 {
		t.Errorf("rerun: %s", stderr)
	}
}
