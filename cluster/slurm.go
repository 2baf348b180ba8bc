package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ordermerge/ordermerge/study"
	"github.com/ordermerge/ordermerge/tensor"
)

// LiveError refuses a submission into a folder whose earlier submission still has jobs in
// the queue.
type LiveError struct {
	Out  string
	Jobs []JobState
}

func (e *LiveError) Error() string {
	var parts []string
	for _, j := range e.Jobs {
		parts = append(parts, fmt.Sprintf("%s (%s)", j.ID, strings.ToLower(j.State)))
	}
	return fmt.Sprintf("%s already has a live submission: jobs %s; watch it with `ordermerge status %s`, or cancel it first with `ordermerge status --cancel %s`",
		e.Out, strings.Join(parts, ", "), e.Out, e.Out)
}

// ourEntries are the names a plan's output folder may hold.
var ourEntries = []string{PlanFile, LogsDir, MergedDir, ReportDir, BaseDir, SlurmDir, KubernetesDir, lockFile}

// checkOutFolder refuses an output folder that holds files of something else.
func checkOutFolder(out string) error {
	entries, err := os.ReadDir(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if slices.Contains(ourEntries, n) || strings.HasPrefix(n, "variant-") || strings.HasPrefix(n, ".") {
			continue
		}
		return fmt.Errorf("%s exists and holds %s, which no ordermerge plan wrote; choose another output folder", out, n)
	}
	return nil
}

// WriteSlurmScripts checks the plan and writes plan.json and the two batch scripts into the
// output folder; it returns the scripts' paths.
func WriteSlurmScripts(p *Plan, o SlurmOptions) (train, finish string, err error) {
	if err := p.Check(); err != nil {
		return "", "", err
	}
	ts, fsc, err := p.SlurmScripts(o)
	if err != nil {
		return "", "", err
	}
	if err := p.Save(); err != nil {
		return "", "", err
	}
	dir := filepath.Join(p.Out, SlurmDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	train, finish = filepath.Join(dir, TrainScriptFile), filepath.Join(dir, FinishScriptFile)
	for path, text := range map[string]string{train: ts, finish: fsc} {
		if err := tensor.WriteFileAtomic(path, []byte(text)); err != nil {
			return "", "", err
		}
		if err := os.Chmod(path, 0o755); err != nil {
			return "", "", err
		}
	}
	return train, finish, nil
}

// Submit writes the plan and its scripts into p.Out and submits them: a job array of the
// variants that are not complete yet (all of them the first time; a later submission into
// the same folder resumes the others from their checkpoints) and the finishing job, which
// depends on every task (afterok). It refuses while an earlier submission into the folder has
// live jobs (a *LiveError), and when the folder's plan trains different variants. It returns
// what it submitted, one line per job.
func (s *Slurm) Submit(ctx context.Context, p *Plan, o SlurmOptions) ([]string, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	if err := checkOutFolder(p.Out); err != nil {
		return nil, err
	}
	lock, err := lockOut(p.Out)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	if old, err := LoadPlan(p.Out); err == nil {
		if diff := old.Same(p); diff != "" {
			return nil, fmt.Errorf("%s holds a plan whose variants differ from this one: %s; choose another output folder", p.Out, diff)
		}
	} else if _, statErr := os.Stat(filepath.Join(p.Out, PlanFile)); statErr == nil {
		return nil, err
	}
	rec, had, err := ReadRecord(p.Out)
	if err != nil {
		return nil, err
	}
	if had {
		states, err := s.Query(ctx, rec.ids())
		if err != nil {
			return nil, fmt.Errorf("checking the earlier submission into %s: %w", p.Out, err)
		}
		var live []JobState
		for _, id := range rec.ids() {
			if st, ok := states[id]; ok && st.Live() {
				live = append(live, st)
			}
		}
		if len(live) > 0 {
			return nil, &LiveError{Out: p.Out, Jobs: live}
		}
	} else {
		rec = &Record{Scheduler: "slurm"}
	}
	before := len(rec.Events)
	if len(rec.Tasks) != p.K {
		rec.Tasks = make([]string, p.K)
	}
	trainScript, finishScript, err := WriteSlurmScripts(p, o)
	if err != nil {
		return nil, err
	}
	var todo []int
	for i := 0; i < p.K; i++ {
		v, err := ReadVariant(p.VariantDir(i))
		if err != nil {
			return nil, err
		}
		if !v.Complete {
			todo = append(todo, i)
		}
	}
	var waitFor []string
	if len(todo) > 0 {
		array, err := s.sbatch(ctx, trainScript, "--array="+arraySpec(todo, o.Throttle))
		if err != nil {
			return nil, err
		}
		waitFor = taskIDs(array, todo)
		for k, i := range todo {
			rec.Tasks[i] = waitFor[k]
		}
		rec.note("submitted array job %s for variants %s", array, arraySpec(todo, 0))
	}
	finishID, err := s.submitFinish(ctx, finishScript, waitFor)
	if err != nil {
		// The tasks are queued: keep their record, so status and requeue can find them.
		rec.note("submitting the finishing job failed: %v", err)
		if serr := rec.save(p.Out); serr != nil {
			return nil, errors.Join(err, serr)
		}
		return rec.since(before), fmt.Errorf("the variants are queued but the finishing job is not (`ordermerge status --requeue %s` submits it): %w", p.Out, err)
	}
	rec.Finish = finishID
	rec.note("submitted finishing job %s", finishID)
	return rec.since(before), rec.save(p.Out)
}

// submitFinish submits the finishing job after the given tasks. Should a task fail, the job
// stays pending (DependencyNeverSatisfied) so that a requeue can give it a new dependency.
func (s *Slurm) submitFinish(ctx context.Context, script string, after []string) (string, error) {
	var args []string
	if len(after) > 0 {
		args = append(args, "--dependency=afterok:"+strings.Join(after, ":"), "--kill-on-invalid-dep=no")
	}
	return s.sbatch(ctx, script, args...)
}

// Requeue gives every failed task (failed, cancelled, timed out, or ended without a complete
// variant) another attempt, which resumes from its checkpoint: `scontrol requeue` while the
// controller still knows the task, else a new array job of those indices. The finishing job
// then waits for the new attempts (its dependency is replaced, or it is submitted again if it
// ended). It returns what it did, one line per action.
func (s *Slurm) Requeue(ctx context.Context, p *Plan) ([]string, error) {
	lock, err := lockOut(p.Out)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	rec, ok, err := ReadRecord(p.Out)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: nothing was submitted to Slurm from this folder", p.Out)
	}
	if len(rec.Tasks) != p.K {
		return nil, fmt.Errorf("%s: the job record lists %d tasks, the plan %d", recordPath(p.Out), len(rec.Tasks), p.K)
	}
	states, err := s.Query(ctx, rec.ids())
	if err != nil {
		return nil, err
	}
	var did []string
	var waitFor, resubmit []int
	for i, id := range rec.Tasks {
		v, err := ReadVariant(p.VariantDir(i))
		if err != nil {
			return nil, err
		}
		if v.Complete {
			continue
		}
		st, known := states[id]
		if known && st.Live() {
			waitFor = append(waitFor, i)
			continue
		}
		if known {
			if _, err := s.run(ctx, "scontrol", "requeue", id); err == nil {
				// A requeued job waits a while before it may start again; let it start now
				// (best effort: a site may not allow it).
				s.run(ctx, "scontrol", "update", "JobId="+id, "StartTime=now")
				did = append(did, fmt.Sprintf("requeued %s (variant %d, was %s)", id, i, strings.ToLower(st.State)))
				waitFor = append(waitFor, i)
				continue
			}
		}
		resubmit = append(resubmit, i)
	}
	if len(resubmit) > 0 {
		array, err := s.sbatch(ctx, filepath.Join(p.Out, SlurmDir, TrainScriptFile), "--array="+arraySpec(resubmit, 0))
		if err != nil {
			return did, err
		}
		ids := taskIDs(array, resubmit)
		for k, i := range resubmit {
			rec.Tasks[i] = ids[k]
		}
		did = append(did, fmt.Sprintf("resubmitted variants %s as array job %s", arraySpec(resubmit, 0), array))
		waitFor = append(waitFor, resubmit...)
	}
	slices.Sort(waitFor)
	var after []string
	for _, i := range waitFor {
		after = append(after, rec.Tasks[i])
	}
	fst, known := states[rec.Finish]
	finishFailed := known && !fst.Live() && fst.State != "COMPLETED"
	if !known {
		_, err := os.Stat(filepath.Join(p.Out, ReportDir, study.ResultsFile))
		finishFailed = err != nil
	}
	if len(did) == 0 && !finishFailed {
		return nil, nil
	}
	replaced := false
	if known && fst.Live() && fst.State == "PENDING" && len(after) > 0 {
		if _, err := s.run(ctx, "scontrol", "update", "JobId="+rec.Finish, "Dependency=afterok:"+strings.Join(after, ":")); err == nil {
			did = append(did, fmt.Sprintf("finishing job %s now waits for %s", rec.Finish, strings.Join(after, ", ")))
			replaced = true
		}
	}
	if !replaced {
		if known && fst.Live() {
			if _, err := s.run(ctx, "scancel", rec.Finish); err != nil {
				return did, err
			}
		}
		id, err := s.submitFinish(ctx, filepath.Join(p.Out, SlurmDir, FinishScriptFile), after)
		if err != nil {
			return did, err
		}
		did = append(did, fmt.Sprintf("submitted finishing job %s (replacing %s)", id, rec.Finish))
		rec.Finish = id
	}
	for _, d := range did {
		rec.note("%s", d)
	}
	return did, rec.save(p.Out)
}

// Cancel cancels every live job of the plan (scancel sends SIGTERM first: a training task
// writes a checkpoint at its step boundary, so a later submission resumes it).
func (s *Slurm) Cancel(ctx context.Context, p *Plan) ([]string, error) {
	lock, err := lockOut(p.Out)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	rec, ok, err := ReadRecord(p.Out)
	if err != nil || !ok {
		return nil, err
	}
	states, err := s.Query(ctx, rec.ids())
	if err != nil {
		return nil, err
	}
	var live []string
	for _, id := range rec.ids() {
		if st, ok := states[id]; ok && st.Live() {
			live = append(live, id)
		}
	}
	if len(live) == 0 {
		return nil, nil
	}
	if _, err := s.run(ctx, "scancel", live...); err != nil {
		return nil, err
	}
	rec.note("cancelled %s", strings.Join(live, " "))
	return live, rec.save(p.Out)
}
