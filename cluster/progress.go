package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
)

// ProgressFile is the small file `ordermerge train` keeps up to date in its output folder, so
// that a status command on another machine can show a running task's step and loss. It is
// written to ProgressPartialFile first and renamed over it, so readers never see half a file;
// a process killed in between leaves the partial file, which the next write replaces.
const (
	ProgressFile        = "progress.json"
	ProgressPartialFile = "progress.json.partial"
)

// Progress states.
const (
	ProgressRunning = "running"
	ProgressDone    = "done"
	ProgressFailed  = "failed"
)

// Progress is the content of progress.json.
type Progress struct {
	// State is running, done or failed (Error says why).
	State string `json:"state"`
	// Phase is the trainer's: "train" during the steps, "final" while final losses are measured.
	Phase        string  `json:"phase,omitempty"`
	Step         int     `json:"step"`
	TotalSteps   int     `json:"total_steps"`
	Epoch        int     `json:"epoch"` // 1-based
	Epochs       int     `json:"epochs"`
	Loss         float64 `json:"loss"`
	LR           float64 `json:"lr"`
	TokensPerSec float64 `json:"tokens_per_sec"`
	ETASeconds   float64 `json:"eta_seconds"`
	Error        string  `json:"error,omitempty"`
	// Host and PID name the process that wrote the file; Updated is when.
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Updated time.Time `json:"updated"`
}

// TrainingProgress turns a trainer report into a progress file's content (state running).
func TrainingProgress(p sft.Progress) Progress {
	return Progress{
		State: ProgressRunning, Phase: p.Phase, Step: p.Step, TotalSteps: p.TotalSteps,
		Epoch: p.Epoch + 1, Epochs: p.Epochs, Loss: p.Loss, LR: p.LR, TokensPerSec: p.TokensPerSec,
		ETASeconds: p.ETA.Seconds(),
	}
}

// WriteProgress replaces dir/progress.json with p (stamped with host, pid and time). It is not
// synced to disk: a progress file lost in a crash only shows an older step.
func WriteProgress(dir string, p Progress) error {
	p.Host, _ = os.Hostname()
	p.PID = os.Getpid()
	p.Updated = time.Now().UTC()
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	partial := filepath.Join(dir, ProgressPartialFile)
	if err := os.WriteFile(partial, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(partial, filepath.Join(dir, ProgressFile))
}

// ReadProgress reads dir/progress.json; ok is false when there is none yet.
func ReadProgress(dir string) (p Progress, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, ProgressFile))
	if errors.Is(err, fs.ErrNotExist) {
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, false, fmt.Errorf("%s: %w", filepath.Join(dir, ProgressFile), err)
	}
	return p, true, nil
}

// Variant is what a variant folder holds, from its trainer_state.json.
type Variant struct {
	Dir string
	// Exists is set when Dir holds a training checkpoint at all.
	Exists bool
	// Complete is set when every step ran, the final losses were measured and the model and
	// record files are present.
	Complete   bool
	Step       int
	TotalSteps int
	Config     sft.Config
	StepLosses []sft.StepLoss
	// Problem says, when not Complete, what is missing.
	Problem string
}

// trainerStateSummary is the part of sft's trainer_state.json read here.
type trainerStateSummary struct {
	Format     string         `json:"format"`
	Config     sft.Config     `json:"config"`
	Step       int            `json:"step"`
	TotalSteps int            `json:"total_steps"`
	Completed  bool           `json:"completed"`
	StepLosses []sft.StepLoss `json:"step_losses"`
}

// ReadVariant inspects a variant folder. Only unreadable files are errors; a missing or
// incomplete run is reported in Problem.
func ReadVariant(dir string) (Variant, error) {
	v := Variant{Dir: dir}
	statePath := filepath.Join(dir, sft.TrainerStateFile)
	b, err := os.ReadFile(statePath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			v.Problem = dir + " does not exist"
		} else {
			v.Problem = dir + " holds no training checkpoint (no " + sft.TrainerStateFile + ")"
		}
		return v, nil
	case err != nil:
		return v, err
	}
	var st trainerStateSummary
	if err := json.Unmarshal(b, &st); err != nil {
		return v, fmt.Errorf("%s: %w", statePath, err)
	}
	v.Exists = true
	v.Step, v.TotalSteps, v.Config, v.StepLosses = st.Step, st.TotalSteps, st.Config, st.StepLosses
	if !st.Completed || st.Step != st.TotalSteps {
		v.Problem = fmt.Sprintf("%s is incomplete: step %d of %d", dir, st.Step, st.TotalSteps)
		return v, nil
	}
	for _, f := range []string{tensor.ConfigFile, sft.FinalLossesFile, sft.RecordsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			v.Problem = fmt.Sprintf("%s is incomplete: no %s", dir, f)
			return v, nil
		}
	}
	_, errSingle := os.Stat(filepath.Join(dir, tensor.SingleFile))
	_, errIndex := os.Stat(filepath.Join(dir, tensor.IndexFile))
	if errSingle != nil && errIndex != nil {
		v.Problem = fmt.Sprintf("%s is incomplete: no %s or %s", dir, tensor.SingleFile, tensor.IndexFile)
		return v, nil
	}
	v.Complete = true
	return v, nil
}
