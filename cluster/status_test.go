package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/study"
	"github.com/ordermerge/ordermerge/tensor"
)

// writeVariant fakes a variant folder at the given step (complete when step == total).
func writeVariant(t *testing.T, dir string, seed uint64, step, total int) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	st := map[string]any{"format": "ordermerge-trainer-state", "config": map[string]any{"order_seed": seed, "epochs": 2},
		"step": step, "total_steps": total, "completed": step == total,
		"step_losses": []map[string]any{{"step": step, "loss": 1.25}}}
	b, _ := json.Marshal(st)
	os.WriteFile(filepath.Join(dir, sft.TrainerStateFile), b, 0o644)
	for _, f := range []string{tensor.ConfigFile, tensor.SingleFile, sft.RecordsFile, sft.FinalLossesFile} {
		os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o644)
	}
}

// fakeSlurm writes squeue and sacct stand-ins: squeue prints queue (or fails the way the real
// one does when it knows none of the ids); sacct fails as without accounting.
func fakeSlurm(t *testing.T, queue string) *Slurm {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "queue.txt")
	os.WriteFile(data, []byte(queue), 0o644)
	squeue := fmt.Sprintf("#!/bin/sh\nif [ -s %s ]; then cat %s; else echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1; fi\n", data, data)
	sacct := "#!/bin/sh\necho 'Slurm accounting storage is disabled' >&2\nexit 1\n"
	os.WriteFile(filepath.Join(dir, "squeue"), []byte(squeue), 0o755)
	os.WriteFile(filepath.Join(dir, "sacct"), []byte(sacct), 0o755)
	return &Slurm{Bin: dir}
}

func TestParseSqueueAndSacct(t *testing.T) {
	got := map[string]JobState{}
	parseSqueue("12_0|RUNNING|None\n12_1|PENDING|Resources\n13|PENDING|Dependency\n\n", got)
	parseSacct("12_2|CANCELLED by 0|0:15\n12_3|FAILED|1:0\n12_3|COMPLETED|0:0\n", got)
	want := map[string]JobState{
		"12_0": {"12_0", "RUNNING", "None", "squeue"}, "12_1": {"12_1", "PENDING", "Resources", "squeue"},
		"13":   {"13", "PENDING", "Dependency", "squeue"},
		"12_2": {"12_2", "CANCELLED", "exit code 0:15", "sacct"}, "12_3": {"12_3", "COMPLETED", "exit code 0:0", "sacct"},
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %+v, want %+v", id, got[id], w)
		}
	}
	if !got["12_1"].Live() || got["12_2"].Live() || !got["12_0"].Running() {
		t.Errorf("live/running states wrong")
	}
}

// TestStatusOfEveryState builds a plan whose variants are done, failed (cancelled mid-run),
// running and pending, with the scheduler's answers from stand-in commands, and checks the
// states, the details and the log tail of the failed one.
func TestStatusOfEveryState(t *testing.T) {
	p := testPlan(t)
	p.K = 4
	writeVariant(t, p.VariantDir(0), 11, 40, 40)
	writeVariant(t, p.VariantDir(1), 12, 20, 40)
	writeVariant(t, p.VariantDir(2), 13, 10, 40)
	if err := WriteProgress(p.VariantDir(2), Progress{State: ProgressRunning, Step: 15, TotalSteps: 40, Epoch: 1, Epochs: 2, Loss: 2.5}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(p.Out, LogsDir), 0o755)
	var log strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&log, "line %d\n", i)
	}
	log.WriteString("slurmstepd: error: *** JOB 21 ON node1 CANCELLED AT 2026-01-01T00:00:00 ***\n")
	os.WriteFile(p.TaskLog(1), []byte(log.String()), 0o644)
	rec := &Record{Scheduler: "slurm", Tasks: []string{"20_0", "20_1", "20_2", "20_3"}, Finish: "24"}
	if err := rec.save(p.Out); err != nil {
		t.Fatal(err)
	}
	s := fakeSlurm(t, "20_1|CANCELLED|None\n20_2|RUNNING|None\n20_3|PENDING|Resources\n24|PENDING|DependencyNeverSatisfied\n")
	st, err := s.Status(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{StateDone, StateFailed, StateRunning, StatePending}
	for i, ts := range st.Tasks {
		if ts.State != want[i] {
			t.Errorf("variant %d: %s, want %s (%+v)", i, ts.State, want[i], ts)
		}
	}
	if ts := st.Tasks[0]; ts.Step != 40 || ts.Loss != 1.25 {
		t.Errorf("done task: step %d loss %g", ts.Step, ts.Loss)
	}
	if ts := st.Tasks[1]; !strings.Contains(ts.Detail, "cancelled") || !strings.Contains(ts.Detail, "step 20 of 40") ||
		len(ts.LogTail) != logTailLines || !strings.Contains(ts.LogTail[len(ts.LogTail)-1], "CANCELLED") {
		t.Errorf("failed task: detail %q, tail %q", ts.Detail, ts.LogTail)
	}
	if ts := st.Tasks[2]; ts.Step != 15 || ts.Loss != 2.5 || ts.Epoch != 1 {
		t.Errorf("running task: %+v", ts)
	}
	if ts := st.Tasks[3]; ts.Detail != "reason: Resources" {
		t.Errorf("pending task: %q", ts.Detail)
	}
	if st.Finish.State != StatePending || !strings.Contains(st.Finish.Detail, "a variant failed") {
		t.Errorf("finishing job: %+v", st.Finish)
	}
	if st.Finished() || st.Done() || st.Failed() != 1 || st.Counts() != "1 done, 1 running, 1 pending, 1 failed" {
		t.Errorf("finished %v done %v failed %d counts %q", st.Finished(), st.Done(), st.Failed(), st.Counts())
	}
	text, html := st.String(), st.HTML()
	for _, want := range []string{"variant-2  13    20_2  running  step 15/40 (epoch 1/2), loss 2.5000", "variant-1 failed; the end of its log:", "    line 30"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(html, "<table>") || !strings.Contains(html, "*** JOB 21 ON node1 CANCELLED") {
		t.Errorf("html:\n%s", html)
	}

	// Later: the controller has forgotten everything (squeue knows none of the ids).
	writeVariant(t, p.VariantDir(2), 13, 40, 40)
	writeVariant(t, p.VariantDir(3), 14, 40, 40)
	s = fakeSlurm(t, "")
	if st, err = s.Status(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if st.Tasks[1].State != StateFailed || !strings.Contains(st.Tasks[1].Detail, "no longer in the queue") || st.Tasks[2].State != StateDone {
		t.Errorf("forgotten jobs: %+v", st.Tasks)
	}
	if st.Finish.State != StateFailed || !st.Finished() {
		t.Errorf("finishing job gone without a report: %+v", st.Finish)
	}
	os.MkdirAll(filepath.Join(p.Out, ReportDir), 0o755)
	os.WriteFile(filepath.Join(p.Out, ReportDir, study.ResultsFile), []byte("{}"), 0o644)
	writeVariant(t, p.VariantDir(1), 12, 40, 40)
	if st, _ = s.Status(context.Background(), p); !st.Done() {
		t.Errorf("everything complete and a report: %s", st.String())
	}
}

func TestReadVariantProblems(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		setup func(string)
		want  string
	}{
		{func(d string) {}, "does not exist"},
		{func(d string) { os.MkdirAll(d, 0o755) }, "holds no training checkpoint"},
		{func(d string) { writeVariant(t, d, 1, 3, 10) }, "incomplete: step 3 of 10"},
		{func(d string) { writeVariant(t, d, 1, 10, 10); os.Remove(filepath.Join(d, sft.FinalLossesFile)) }, "no final_losses.jsonl"},
		{func(d string) { writeVariant(t, d, 1, 10, 10); os.Remove(filepath.Join(d, tensor.SingleFile)) }, "no model.safetensors"},
	} {
		d := filepath.Join(dir, fmt.Sprint(len(c.want)))
		os.RemoveAll(d)
		c.setup(d)
		v, err := ReadVariant(d)
		if err != nil || v.Complete || !strings.Contains(v.Problem, c.want) {
			t.Errorf("want %q: %+v, %v", c.want, v, err)
		}
	}
	d := filepath.Join(dir, "ok")
	writeVariant(t, d, 5, 10, 10)
	if v, err := ReadVariant(d); err != nil || !v.Complete || v.Config.OrderSeed != 5 {
		t.Errorf("complete variant: %+v %v", v, err)
	}
	os.WriteFile(filepath.Join(d, sft.TrainerStateFile), []byte("{"), 0o644)
	if _, err := ReadVariant(d); err == nil || !strings.Contains(err.Error(), sft.TrainerStateFile) {
		t.Errorf("broken trainer state: %v", err)
	}
}

// TestWatchRetriesAndStops watches a plan whose squeue fails twice (a controller restarting)
// and then shows every task done: Watch shows each status it could read and returns when
// nothing more will happen; a cancelled context stops it at once.
func TestWatchRetriesAndStops(t *testing.T) {
	p := testPlan(t)
	p.K = 1
	writeVariant(t, p.VariantDir(0), 11, 10, 10)
	os.MkdirAll(filepath.Join(p.Out, ReportDir), 0o755)
	os.WriteFile(filepath.Join(p.Out, ReportDir, study.ResultsFile), []byte("{}"), 0o644)
	(&Record{Tasks: []string{"7_0"}, Finish: "8"}).save(p.Out)
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	squeue := fmt.Sprintf("#!/bin/sh\necho x >> %s\nif [ $(wc -l < %s) -le 2 ]; then echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1; fi\necho '7_0|COMPLETED|None'; echo '8|COMPLETED|None'\n", count, count)
	os.WriteFile(filepath.Join(dir, "squeue"), []byte(squeue), 0o755)
	job := &Job{Plan: p, Slurm: &Slurm{Bin: dir}}
	shown := 0
	st, err := job.Watch(context.Background(), time.Second, func(*Status) { shown++ })
	if err != nil || !st.Done() || shown != 1 {
		t.Errorf("Watch: done %v, shown %d, err %v", st != nil && st.Done(), shown, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := job.Watch(ctx, time.Second, nil); err != context.Canceled {
		t.Errorf("cancelled Watch: %v", err)
	}
}
