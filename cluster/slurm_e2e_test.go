package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ordermerge/ordermerge/cluster"
	"github.com/ordermerge/ordermerge/cluster/slurmtest"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
)

// The CLI the jobs run, built once per test binary into a temporary folder.
var ordermerge struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if ordermerge.dir != "" {
		os.RemoveAll(ordermerge.dir)
	}
	os.Exit(code)
}

// buildOrdermerge builds the CLI (once) and returns its path: the jobs run it.
func buildOrdermerge(t *testing.T) string {
	t.Helper()
	ordermerge.once.Do(func() {
		if ordermerge.dir, ordermerge.err = os.MkdirTemp("", "om-cluster-test-"); ordermerge.err != nil {
			return
		}
		ordermerge.bin = filepath.Join(ordermerge.dir, "ordermerge")
		out, err := exec.Command("go", "build", "-o", ordermerge.bin, "github.com/ordermerge/ordermerge/cmd/ordermerge").CombinedOutput()
		if err != nil {
			ordermerge.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if ordermerge.err != nil {
		t.Fatal(ordermerge.err)
	}
	return ordermerge.bin
}

// runBin runs the CLI with env and returns stdout, stderr and the exit error.
func runBin(env []string, bin string, args ...string) (string, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// tinyConfig writes the config of the e2e test's model: small enough that a variant trains in
// seconds, large enough that a task can be caught mid-run.
func tinyConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.json")
	if err := tensor.WriteConfig(path, tensor.NewLlamaConfig(128, 256, 2, 4, 2, 262, 128)); err != nil {
		t.Fatal(err)
	}
	return path
}

// killProcess sends SIGKILL to the training process of a variant (named by its progress
// file), after checking that the pid is that process.
func killProcess(t *testing.T, dir string) {
	t.Helper()
	pr, ok, err := cluster.ReadProgress(dir)
	if err != nil || !ok {
		t.Fatalf("no progress file in %s: %v", dir, err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pr.PID))
	if err != nil || !strings.Contains(string(cmdline), "train") || !strings.Contains(string(cmdline), dir) {
		t.Fatalf("pid %d of %s is not its training process (%q, %v)", pr.PID, dir, cmdline, err)
	}
	if err := syscall.Kill(pr.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// resumedFrom returns the step a variant's train.log says it resumed from (0: it did not).
func resumedFrom(t *testing.T, dir string) int {
	t.Helper()
	log, _ := os.ReadFile(filepath.Join(dir, "train.log"))
	for _, l := range strings.Split(string(log), "\n") {
		if _, rest, ok := strings.Cut(l, " resuming "); ok {
			var step, total int
			if _, after, ok := strings.Cut(rest, " from step "); ok {
				fmt.Sscanf(after, "%d of %d", &step, &total)
				t.Logf("%s: resumed from step %d of %d", filepath.Base(dir), step, total)
				return step
			}
		}
	}
	return 0
}

// checkpointFiles are the files of a variant that must match a local run byte for byte.
var checkpointFiles = []string{tensor.ConfigFile, tensor.SingleFile, sft.OptimizerFile, sft.TrainerStateFile,
	sft.RecordsFile, sft.FinalLossesFile, sft.StepLossesCSVFile, "tokenizer.json"}

// TestSlurmEndToEnd submits K = 3 tiny variants and the finishing job to a real one-node Slurm,
// kills one task mid-run (scancel --signal=KILL), requeues it, and checks: the status showed
// every state the tasks went through, a second submission was refused while the first was
// live, the finishing job refused to merge while a variant was incomplete, the killed task
// resumed from its checkpoint, every variant is byte-identical to a local run with the same
// seeds, and the merges and the report were written.
func TestSlurmEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: trains three variants through a real one-node Slurm (about a minute)")
	}
	t.Parallel() // each test has a Slurm of its own
	c := slurmtest.Start(t, slurmtest.Options{})
	bin := buildOrdermerge(t)
	env := c.Env()
	cfg := tinyConfig(t)
	work := t.TempDir()
	out, local := filepath.Join(work, "cluster"), filepath.Join(work, "local")
	trainArgs := []string{"--data", "embedded:arith", "--limit", "160", "--init", cfg, "--init-seed", "4", "--epochs", "6", "--batch-size", "2",
		"--order-seed", "11", "--checkpoint-every", "20", "--log-every", "5"}

	// The reference: the same three variants trained locally, one after another.
	localDone, localEnded := make(chan error, 1), make(chan struct{})
	t.Cleanup(func() { <-localEnded }) // before the temporary folders go
	go func() {
		defer close(localEnded)
		_, stderr, err := runBin(env, bin, append(append([]string{"train"}, trainArgs...), "--variants", "3", "--out", local, "--quiet")...)
		if err != nil {
			err = fmt.Errorf("the local reference run: %v: %s", err, stderr)
		}
		localDone <- err
	}()

	// Submit from the notebook API (which runs the CLI, so the flags are checked the same way).
	ctx := context.Background()
	slurm := &cluster.Slurm{Env: env}
	submitArgs := append(append([]string{}, trainArgs...), "--variants", "3", "--out", out, "--test-size", "6",
		"--methods", "linear,parameter_selection", "--merge-seeds", "2", "--name", "e2e")
	job, err := slurm.SubmitCLI(ctx, bin, submitArgs...)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if _, err := slurm.SubmitCLI(ctx, bin, submitArgs...); err == nil || !strings.Contains(err.Error(), "already has a live submission") {
		t.Errorf("a second submission into the same folder while the first is live: err = %v, want a refusal", err)
	}
	// Interrupting Watch stops the watching, not the jobs.
	wctx, stop := context.WithCancel(ctx)
	if _, err := job.Watch(wctx, time.Second, func(*cluster.Status) { stop() }); err != context.Canceled {
		t.Errorf("Watch after cancel returned %v, want context.Canceled", err)
	}
	if st, err := job.Status(ctx); err != nil || !st.Live() {
		t.Errorf("after an interrupted Watch the jobs must go on: live %v, err %v", st != nil && st.Live(), err)
	}

	seen := make([]map[string]bool, 3)
	for i := range seen {
		seen[i] = map[string]bool{}
	}
	finishSeen := map[string]bool{}
	// Two tasks are killed mid-run: one with scancel --signal=KILL (Slurm cancels it: SIGTERM,
	// then SIGKILL), one with a plain SIGKILL to its process (no chance to checkpoint: it must
	// resume from its last periodic checkpoint).
	var kills []int
	hardKilled := -1
	requeued := false
	var sawRunningStep bool
	sawFailedLog := map[int]bool{}
	var last cluster.Status
	for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the jobs did not finish within 4 minutes; last status:\n%s", last.String())
		}
		stdout, stderr, err := runBin(env, bin, "status", "--json", out)
		if err != nil {
			t.Fatalf("status: %v: %s", err, stderr)
		}
		var st cluster.Status
		if err := json.Unmarshal([]byte(stdout), &st); err != nil {
			t.Fatalf("status --json: %v\n%s", err, stdout)
		}
		last = st
		for i, ts := range st.Tasks {
			seen[i][ts.State] = true
			if ts.State == cluster.StateRunning && ts.Step > 0 && ts.Loss > 0 && ts.TotalSteps > ts.Step {
				sawRunningStep = true
			}
			if ts.State == cluster.StateFailed && len(ts.LogTail) > 0 {
				sawFailedLog[i] = true
			}
		}
		finishSeen[st.Finish.State] = true
		for i, ts := range st.Tasks {
			if len(kills) == 2 || slices.Contains(kills, i) {
				continue
			}
			v, err := cluster.ReadVariant(job.Plan.VariantDir(i))
			if err != nil || ts.State != cluster.StateRunning || !v.Exists || v.Step < 20 || v.Step > v.TotalSteps-100 {
				continue
			}
			if len(kills) == 0 {
				if text, err := c.Run("scancel", "--signal=KILL", ts.Job); err != nil {
					t.Fatalf("scancel --signal=KILL %s: %v: %s", ts.Job, err, text)
				}
				t.Logf("scancel --signal=KILL %s (variant %d), its checkpoint at step %d of %d", ts.Job, i, v.Step, v.TotalSteps)
			} else {
				killProcess(t, job.Plan.VariantDir(i))
				hardKilled = i
				t.Logf("SIGKILL to the process of %s (variant %d), its checkpoint at step %d of %d", ts.Job, i, v.Step, v.TotalSteps)
			}
			kills = append(kills, i)
		}
		if len(kills) == 2 && !requeued && st.Tasks[kills[0]].State == cluster.StateFailed && st.Tasks[kills[1]].State == cluster.StateFailed {
			t.Logf("after the kills:\n%s", st.String())
			// The finishing step refuses while a variant is incomplete, naming it.
			_, stderr, err := runBin(env, bin, "finish", out)
			if err == nil || !strings.Contains(stderr, fmt.Sprintf("variant %d ", kills[0])) || !strings.Contains(stderr, "incomplete") {
				t.Errorf("finish with variant %d incomplete: err %v, stderr %q; want a refusal naming it", kills[0], err, stderr)
			}
			text, stderr, err := runBin(env, bin, "status", "--requeue", out)
			if err != nil || strings.Count(text, "requeued ") != 2 {
				t.Fatalf("status --requeue: %v\n%s%s", err, text, stderr)
			}
			t.Logf("status --requeue: %s", strings.TrimSpace(text))
			requeued = true
		}
		if st.Finished() {
			break
		}
	}
	if !last.Done() {
		t.Fatalf("the jobs ended without success:\n%s", last.String())
	}
	if len(kills) < 2 {
		t.Fatalf("only %d task(s) were caught mid-run to be killed (the variants trained too fast?)", len(kills))
	}
	for i := range seen {
		for _, want := range []string{cluster.StateRunning, cluster.StateDone} {
			if !seen[i][want] {
				t.Errorf("variant %d: the status never showed %s (saw %v)", i, want, seen[i])
			}
		}
	}
	if !seen[0][cluster.StatePending] && !seen[1][cluster.StatePending] && !seen[2][cluster.StatePending] {
		t.Errorf("no task was ever shown pending (three tasks on a node with fewer cores must wait)")
	}
	for _, k := range kills {
		if !seen[k][cluster.StateFailed] || !sawFailedLog[k] {
			t.Errorf("the killed variant %d was not shown failed with the end of its log (saw %v)", k, seen[k])
		}
	}
	if !sawRunningStep {
		t.Errorf("no running task showed its step and loss")
	}
	if !finishSeen[cluster.StatePending] || !finishSeen[cluster.StateDone] {
		t.Errorf("the finishing job was not shown pending, then done: %v", finishSeen)
	}
	t.Logf("states seen: variants %v, finishing job %v", seen, finishSeen)
	for _, k := range kills {
		step := resumedFrom(t, job.Plan.VariantDir(k))
		switch {
		case step <= 0:
			t.Errorf("variant %d did not resume from a checkpoint", k)
		case k == hardKilled && step%20 != 0:
			t.Errorf("variant %d was killed without warning but resumed from step %d, not from a periodic checkpoint (every 20 steps)", k, step)
		}
	}

	if err := <-localDone; err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		for _, f := range checkpointFiles {
			a, err1 := os.ReadFile(filepath.Join(job.Plan.VariantDir(i), f))
			b, err2 := os.ReadFile(filepath.Join(sft.VariantDir(local, i), f))
			if err1 != nil || err2 != nil {
				t.Errorf("variant %d %s: %v %v", i, f, err1, err2)
				continue
			}
			if !bytes.Equal(a, b) {
				t.Errorf("variant %d: %s differs from the local run's (%d vs %d bytes)", i, f, len(a), len(b))
			}
		}
	}

	// What the finishing job wrote, loaded as a notebook would.
	variants, err := job.Variants()
	if err != nil || len(variants) != 3 {
		t.Fatalf("Variants: %d, %v", len(variants), err)
	}
	merges, err := job.Merges()
	if err != nil || len(merges) != 3 {
		t.Fatalf("Merges: %d, %v", len(merges), err)
	}
	res, err := job.Results()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Datasets) != 1 || len(res.Datasets[0].Variants) != 3 || len(res.Datasets[0].Merges) != 2 || res.Datasets[0].TestSize != 6 {
		t.Errorf("results.json: %+v", res.Datasets)
	}
	for _, f := range []string{"report.md", "report.html", "figures/comparison.png"} {
		if st, err := os.Stat(filepath.Join(out, cluster.ReportDir, f)); err != nil || st.Size() == 0 {
			t.Errorf("report file %s: %v", f, err)
		}
	}
}
