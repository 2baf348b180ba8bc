package cluster_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordermerge/ordermerge/cluster"
	"github.com/ordermerge/ordermerge/cluster/slurmtest"
	"github.com/ordermerge/ordermerge/sft"
)

// faultRun is a K = 2 plan on a real one-node Slurm with its local reference run.
type faultRun struct {
	t         *testing.T
	c         *slurmtest.Cluster
	bin       string
	out       string
	local     string
	trainArgs []string
	localDone chan error
}

func newFaultRun(t *testing.T, opt slurmtest.Options) *faultRun {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: trains variants through a real one-node Slurm")
	}
	t.Parallel() // each test has a Slurm of its own
	c := slurmtest.Start(t, opt)
	r := &faultRun{t: t, c: c, bin: buildOrdermerge(t), localDone: make(chan error, 1)}
	work := t.TempDir()
	r.out, r.local = filepath.Join(work, "cluster"), filepath.Join(work, "local")
	r.trainArgs = []string{"--data", "embedded:strings", "--limit", "160", "--init", tinyConfig(t), "--epochs", "6", "--batch-size", "2",
		"--order-seed", "3", "--checkpoint-every", "20", "--log-every", "5"}
	ended := make(chan struct{})
	t.Cleanup(func() { <-ended }) // before the temporary folders go
	go func() {
		defer close(ended)
		_, stderr, err := runBin(c.Env(), r.bin, append(append([]string{"train"}, r.trainArgs...), "--variants", "2", "--out", r.local, "--quiet")...)
		if err != nil {
			err = fmt.Errorf("the local reference run: %v: %s", err, stderr)
		}
		r.localDone <- err
	}()
	return r
}

// submit runs `ordermerge submit slurm` with the run's flags plus extra, and returns stdout.
func (r *faultRun) submit(extra ...string) (string, error) {
	args := append(append([]string{"submit", "slurm"}, r.trainArgs...), "--variants", "2", "--out", r.out, "--test-size", "4", "--methods", "linear")
	stdout, stderr, err := runBin(r.c.Env(), r.bin, append(args, extra...)...)
	if err != nil {
		return stdout, fmt.Errorf("%v: %s", err, stderr)
	}
	return stdout, nil
}

func (r *faultRun) status() cluster.Status {
	stdout, stderr, err := runBin(r.c.Env(), r.bin, "status", "--json", r.out)
	if err != nil {
		r.t.Fatalf("status: %v: %s", err, stderr)
	}
	var st cluster.Status
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		r.t.Fatalf("status --json: %v\n%s", err, stdout)
	}
	return st
}

// waitFor polls the status until cond holds (and returns that status) or fails after limit.
func (r *faultRun) waitFor(what string, limit time.Duration, cond func(cluster.Status) bool) cluster.Status {
	r.t.Helper()
	var st cluster.Status
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if st = r.status(); cond(st) {
			r.t.Logf("%s: %s", time.Now().Format("15:04:05.0"), what)
			return st
		}
	}
	r.t.Fatalf("waiting for %s: not within %s; status:\n%s", what, limit, st.String())
	return st
}

// midRun reports whether variant i runs with a checkpoint behind it and a good part left.
func (r *faultRun) midRun(st cluster.Status, i int) bool {
	v, err := cluster.ReadVariant(sft.VariantDir(r.out, i))
	return err == nil && st.Tasks[i].State == cluster.StateRunning && v.Exists && v.Step >= 20 && v.Step <= v.TotalSteps-100
}

// checkResumedAndIdentical checks that variant i resumed from a checkpoint and that every
// variant is byte-identical to the local run's.
func (r *faultRun) checkResumedAndIdentical(resumed ...int) {
	r.t.Helper()
	for _, i := range resumed {
		log, _ := os.ReadFile(filepath.Join(sft.VariantDir(r.out, i), "train.log"))
		if !strings.Contains(string(log), "resuming") {
			r.t.Errorf("variant %d did not resume from its checkpoint; train.log:\n%s", i, log)
		}
	}
	if err := <-r.localDone; err != nil {
		r.t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		for _, f := range checkpointFiles {
			a, err1 := os.ReadFile(filepath.Join(sft.VariantDir(r.out, i), f))
			b, err2 := os.ReadFile(filepath.Join(sft.VariantDir(r.local, i), f))
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				r.t.Errorf("variant %d: %s differs from the local run's (%v, %v)", i, f, err1, err2)
			}
		}
	}
}

// TestSlurmPreemptedTasksResume preempts both running tasks with a job of a higher-priority
// partition: Slurm requeues them (they were submitted with --requeue), train checkpoints on
// the SIGTERM that preemption sends, and the new attempts resume and end with the bytes of a
// local run.
func TestSlurmPreemptedTasksResume(t *testing.T) {
	r := newFaultRun(t, slurmtest.Options{})
	if _, err := r.submit(); err != nil {
		t.Fatal(err)
	}
	r.waitFor("both tasks mid-run", 2*time.Minute, func(st cluster.Status) bool { return r.midRun(st, 0) && r.midRun(st, 1) })
	if out, err := r.c.Run("sbatch", "--parsable", "-p", slurmtest.UrgentPartition, "--exclusive", "--output=/dev/null", "--wrap", "sleep 1"); err != nil {
		t.Fatalf("sbatch of the preempting job: %v: %s", err, out)
	}
	st := r.waitFor("both tasks requeued", time.Minute, func(st cluster.Status) bool {
		return st.Tasks[0].State == cluster.StatePending && st.Tasks[1].State == cluster.StatePending
	})
	t.Logf("after preemption:\n%s", st.String())
	// Slurm holds a requeued job for two minutes before it may start again; a test has no
	// time for that, so it moves the start time (as an administrator can).
	for _, ts := range st.Tasks {
		if out, err := r.c.Run("scontrol", "update", "JobId="+ts.Job, "StartTime=now"); err != nil {
			t.Fatalf("scontrol update %s StartTime=now: %v: %s", ts.Job, err, out)
		}
	}
	st = r.waitFor("the plan to finish", 3*time.Minute, func(st cluster.Status) bool { return st.Finished() })
	if !st.Done() {
		t.Fatalf("the plan did not succeed:\n%s", st.String())
	}
	r.checkResumedAndIdentical(0, 1)
}

// TestSlurmResubmitsForgottenTasks kills a task and waits until the controller has forgotten
// it (MinJobAge 2 s, no accounting): the status still names it failed, from its files, and
// --requeue submits it again as a new array job that resumes its checkpoint, with the
// finishing job waiting for the new attempt. A second submission into the finished folder
// trains nothing and runs only the finishing job; one with other train flags is refused.
func TestSlurmResubmitsForgottenTasks(t *testing.T) {
	r := newFaultRun(t, slurmtest.Options{MinJobAge: 2})
	if _, err := r.submit(); err != nil {
		t.Fatal(err)
	}
	st := r.waitFor("variant 1 mid-run", 2*time.Minute, func(st cluster.Status) bool { return r.midRun(st, 1) })
	if out, err := r.c.Run("scancel", "--signal=KILL", st.Tasks[1].Job); err != nil {
		t.Fatalf("scancel: %v: %s", err, out)
	}
	st = r.waitFor("variant 1 forgotten by the controller", time.Minute, func(st cluster.Status) bool {
		return st.Tasks[1].State == cluster.StateFailed && st.Tasks[1].Scheduler == ""
	})
	if !strings.Contains(st.Tasks[1].Detail, "no longer in the queue") || len(st.Tasks[1].LogTail) == 0 {
		t.Errorf("variant 1: detail %q, log tail %q", st.Tasks[1].Detail, st.Tasks[1].LogTail)
	}
	text, stderr, err := runBin(r.c.Env(), r.bin, "status", "--requeue", r.out)
	if err != nil || !strings.Contains(text, "resubmitted variants 1 as array job") {
		t.Fatalf("status --requeue: %v\n%s%s", err, text, stderr)
	}
	st = r.waitFor("the plan to finish", 3*time.Minute, func(st cluster.Status) bool { return st.Finished() })
	if !st.Done() {
		t.Fatalf("the plan did not succeed:\n%s", st.String())
	}
	r.checkResumedAndIdentical(1)

	report := filepath.Join(r.out, cluster.ReportDir, "results.json")
	os.Remove(report)
	text, err = r.submit()
	if err != nil || strings.Contains(text, "array job") || !strings.Contains(text, "submitted finishing job") {
		t.Fatalf("second submission of a finished plan: %v\n%s", err, text)
	}
	if st = r.waitFor("the finishing job again", 2*time.Minute, func(st cluster.Status) bool { return st.Finished() }); !st.Done() {
		t.Fatalf("the second finishing job did not succeed:\n%s", st.String())
	}
	if _, err := r.submit("--lr", "0.01"); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("a submission with other train flags into the folder: err %v, want a refusal", err)
	}
}
