package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Slurm runs Slurm's own commands (sbatch, squeue, sacct, scontrol, scancel); it talks to
// whatever cluster they are configured for.
type Slurm struct {
	// Env is the commands' environment (nil: this process's). A cluster other than the
	// machine's default is reached with SLURM_CONF=/path/slurm.conf in it.
	Env []string
	// Bin is the folder of the commands ("": looked up on PATH).
	Bin string
}

// SlurmError is a Slurm command that failed, with what it printed.
type SlurmError struct {
	Command string
	Output  string
	Err     error
}

func (e *SlurmError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		return fmt.Sprintf("%s: %v", e.Command, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Command, e.Err, out)
}

func (e *SlurmError) Unwrap() error { return e.Err }

func (s *Slurm) command(name string) string {
	if s != nil && s.Bin != "" {
		return filepath.Join(s.Bin, name)
	}
	return name
}

// run runs a Slurm command and returns its standard output.
func (s *Slurm) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.command(name), args...)
	if s != nil && s.Env != nil {
		cmd.Env = s.Env
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			err = fmt.Errorf("%w (is Slurm installed, and are its commands on PATH?)", err)
		}
		return stdout.String(), &SlurmError{Command: name + " " + strings.Join(args, " "), Output: stderr.String() + stdout.String(), Err: err}
	}
	return stdout.String(), nil
}

// Available reports whether Slurm's commands can reach a controller (sinfo answers).
func (s *Slurm) Available(ctx context.Context) error {
	_, err := s.run(ctx, "sinfo", "-h", "-o", "%P")
	return err
}

// JobState is one job (or array task) as the scheduler sees it.
type JobState struct {
	ID string
	// State is Slurm's: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, PREEMPTED,
	// NODE_FAIL, OUT_OF_MEMORY, ...
	State string
	// Reason is squeue's reason (Resources, Priority, Dependency, DependencyNeverSatisfied,
	// BeginTime, NonZeroExitCode, ...) or sacct's exit code.
	Reason string
	// From is the command the state came from: squeue (the controller) or sacct (accounting).
	From string
}

// liveStates are the states of a job that is still in the scheduler's hands.
var liveStates = []string{"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
	"RESIZING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "SPECIAL_EXIT", "RESV_DEL_HOLD"}

// Live reports whether the job is pending, running or otherwise not yet ended.
func (j JobState) Live() bool { return slices.Contains(liveStates, j.State) }

// Running reports whether the job runs (or is finishing).
func (j JobState) Running() bool { return j.State == "RUNNING" || j.State == "COMPLETING" }

// words is the state and reason as one string ("" for an unknown job).
func (j JobState) words() string { return strings.TrimSpace(j.State + " " + j.Reason) }

// baseID is a job id without its array index: "12_3" -> "12".
func baseID(id string) string {
	b, _, _ := strings.Cut(id, "_")
	return b
}

// Query returns the state of each job id (array tasks as "ARRAY_INDEX") that the controller
// (squeue, which knows jobs until a few minutes after they end) or the accounting database
// (sacct) knows. Ids neither knows are absent from the map.
func (s *Slurm) Query(ctx context.Context, ids []string) (map[string]JobState, error) {
	out := map[string]JobState{}
	var bases []string
	for _, id := range ids {
		if id != "" && !slices.Contains(bases, baseID(id)) {
			bases = append(bases, baseID(id))
		}
	}
	if len(bases) == 0 {
		return out, nil
	}
	text, err := s.run(ctx, "squeue", "-h", "-r", "-t", "all", "-j", strings.Join(bases, ","), "-o", "%i|%T|%r")
	if err != nil {
		// squeue fails when none of the ids is known any more; anything else is a real error.
		var se *SlurmError
		if !errors.As(err, &se) || !strings.Contains(se.Output, "Invalid job id") {
			return nil, err
		}
	}
	parseSqueue(text, out)
	var missing []string
	for _, id := range ids {
		if _, ok := out[id]; !ok && id != "" {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		// Without accounting (slurmdbd) sacct fails; the variants' own files then tell.
		if text, err := s.run(ctx, "sacct", "-n", "-P", "-X", "-j", strings.Join(missing, ","), "-o", "JobID,State,ExitCode"); err == nil {
			parseSacct(text, out)
		}
	}
	return out, nil
}

// parseSqueue reads `squeue -h -r -o %i|%T|%r` lines.
func parseSqueue(text string, into map[string]JobState) {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) < 3 || f[0] == "" {
			continue
		}
		into[f[0]] = JobState{ID: f[0], State: f[1], Reason: f[2], From: "squeue"}
	}
}

// parseSacct reads `sacct -n -P -X -o JobID,State,ExitCode` lines. sacct writes "CANCELLED by
// UID"; the state is the first word. The newest record of a requeued job comes last.
func parseSacct(text string, into map[string]JobState) {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) < 3 || f[0] == "" {
			continue
		}
		state, _, _ := strings.Cut(f[1], " ")
		into[f[0]] = JobState{ID: f[0], State: state, Reason: "exit code " + f[2], From: "sacct"}
	}
}

// sbatch submits a script and returns the job id.
func (s *Slurm) sbatch(ctx context.Context, script string, args ...string) (string, error) {
	args = append(append([]string{"--parsable"}, args...), script)
	text, err := s.run(ctx, "sbatch", args...)
	if err != nil {
		return "", err
	}
	// --parsable prints "jobid" or "jobid;cluster".
	id, _, _ := strings.Cut(strings.TrimSpace(text), ";")
	if id == "" {
		return "", fmt.Errorf("sbatch %s printed no job id", script)
	}
	return id, nil
}
