package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/study"
)

// Job is a plan submitted to Slurm, seen from a notebook or a program: its status, its
// cancellation, and what its jobs wrote.
type Job struct {
	Plan  *Plan
	Slurm *Slurm
}

// Open returns the job whose output folder is out (anything `ordermerge submit slurm` wrote).
func Open(out string) (*Job, error) {
	p, err := LoadPlan(out)
	if err != nil {
		return nil, err
	}
	return &Job{Plan: p, Slurm: &Slurm{}}, nil
}

// Submit submits a plan from a notebook cell: it runs `ordermerge submit slurm ARGS...` (the
// same flags as on the command line, checked the same way) with the ordermerge binary that
// runs this kernel, and returns the job. A second submission into a folder whose jobs are
// still queued is refused.
func Submit(ctx context.Context, args ...string) (*Job, error) {
	return (&Slurm{}).SubmitCLI(ctx, "", args...)
}

// SubmitCLI is Submit with this Slurm's environment and a given ordermerge binary ("": the
// running program if it is ordermerge, else ordermerge on PATH).
func (s *Slurm) SubmitCLI(ctx context.Context, binary string, args ...string) (*Job, error) {
	if binary == "" {
		var err error
		if binary, err = ordermergeBinary(); err != nil {
			return nil, err
		}
	}
	out := flagValue(args, "out")
	if out == "" {
		return nil, errors.New("submit: --out is required")
	}
	cmd := exec.CommandContext(ctx, binary, append([]string{"submit", "slurm"}, args...)...)
	if s.Env != nil {
		cmd.Env = s.Env
	}
	if s.Bin != "" {
		cmd.Env = append(cmd.Environ(), "PATH="+s.Bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, errors.New(msg)
	}
	p, err := LoadPlan(out)
	if err != nil {
		return nil, err
	}
	return &Job{Plan: p, Slurm: s}, nil
}

// ordermergeBinary finds the ordermerge executable.
func ordermergeBinary() (string, error) {
	if exe, err := os.Executable(); err == nil && strings.HasPrefix(filepath.Base(exe), "ordermerge") {
		return exe, nil
	}
	path, err := exec.LookPath("ordermerge")
	if err != nil {
		return "", fmt.Errorf("submit: no ordermerge binary (this program is not ordermerge, and none is on PATH): %w", err)
	}
	return filepath.Abs(path)
}

// flagValue returns the value of --name (or -name, --name=v) in args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		n, ok := flagName(a)
		if !ok || n != name {
			continue
		}
		if _, v, ok := strings.Cut(a, "="); ok {
			return v
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// watchRetries is how many status reads in a row may fail before Watch gives up.
const watchRetries = 5

// Status reads the state of every task and of the finishing job.
func (j *Job) Status(ctx context.Context) (*Status, error) { return j.Slurm.Status(ctx, j.Plan) }

// Watch reads the status every interval (at least a second) and passes it to show, until
// nothing more will happen (Status.Finished) or ctx ends; it returns the last status.
// Cancelling ctx (interrupting the cell) stops the watching only: the jobs go on, and Watch
// returns the last status with ctx's error. Cancel is the call that stops the jobs. A status
// that cannot be read (the controller restarting, say) is tried again; Watch gives up after
// watchRetries failures in a row.
func (j *Job) Watch(ctx context.Context, every time.Duration, show func(*Status)) (*Status, error) {
	every = max(every, time.Second)
	var last *Status
	failures := 0
	for {
		st, err := j.Status(ctx)
		switch {
		case ctx.Err() != nil:
			return last, ctx.Err()
		case err != nil:
			if failures++; failures >= watchRetries {
				return last, fmt.Errorf("reading the status %d times in a row: %w", failures, err)
			}
		default:
			failures, last = 0, st
			if show != nil {
				show(st)
			}
			if st.Finished() {
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(every):
		}
	}
}

// Requeue runs every failed task again from its checkpoint (see Slurm.Requeue).
func (j *Job) Requeue(ctx context.Context) ([]string, error) { return j.Slurm.Requeue(ctx, j.Plan) }

// Cancel cancels the plan's queued and running jobs; checkpoints stay, so submitting again
// resumes them.
func (j *Job) Cancel(ctx context.Context) ([]string, error) { return j.Slurm.Cancel(ctx, j.Plan) }

// Variants loads the trained variants, in order; it fails, naming the variant, unless every
// one is complete.
func (j *Job) Variants() ([]*llama.Model, error) {
	vs, err := j.Plan.CheckVariants()
	if err != nil {
		return nil, err
	}
	var out []*llama.Model
	for i, v := range vs {
		m, err := llama.Load(v.Dir, llama.Options{})
		if err != nil {
			return nil, fmt.Errorf("variant %d: %w", i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Merged is one merge written by the finishing job.
type Merged struct {
	Name   string
	Method string
	Seed   uint64
	Dir    string
	Model  *llama.Model
	// Score is the merge's evaluation from the report (zero when the report has none).
	Score study.Score
}

func (m *Merged) String() string {
	return fmt.Sprintf("%s (seed %d): accuracy %.1f%%, mean loss %.4f, %s", m.Name, m.Seed, 100*m.Score.Accuracy, m.Score.MeanLoss, m.Dir)
}

// Merges loads every merge the finishing job wrote, with its score from the report.
func (j *Job) Merges() ([]*Merged, error) {
	res, _ := j.Results()
	var out []*Merged
	for _, spec := range j.Plan.Methods {
		for k, seed := range j.Plan.mergeSeeds(spec) {
			dir := j.Plan.MergeDir(spec, seed)
			m, err := llama.Load(dir, llama.Options{})
			if err != nil {
				return nil, fmt.Errorf("merge %s (seed %d): %w (has the finishing job run? see `ordermerge status %s`)", spec.Name, seed, err, j.Plan.Out)
			}
			mg := &Merged{Name: spec.Name, Method: spec.Method, Seed: seed, Dir: dir, Model: m}
			if res != nil && len(res.Datasets) > 0 {
				if mr, ok := res.Datasets[0].Merge(spec.Name); ok && k < len(mr.Runs) {
					mg.Score = mr.Runs[k]
				}
			}
			out = append(out, mg)
		}
	}
	return out, nil
}

// Results reads the report's numbers (OUT/report/results.json); the value shows as the
// report's verdicts and main table in a notebook.
func (j *Job) Results() (*study.Results, error) {
	return study.ReadResults(filepath.Join(j.Plan.Out, ReportDir, study.ResultsFile))
}
