package sft

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/tensor"
)

// Files of a training checkpoint folder, next to the Hugging Face files (model.safetensors or
// shards, config.json when the model has one). merge/ and other tools read only the model
// files; the rest is what an exact resume and the analysis need.
const (
	OptimizerFile        = "optimizer.safetensors" // AdamW moments: exp_avg.NAME, exp_avg_sq.NAME
	TrainerStateFile     = "trainer_state.json"
	RecordsFile          = "records.jsonl"      // StepRecord per line
	RecordsCSVFile       = "records.csv"        // the same, as CSV
	FinalLossesFile      = "final_losses.jsonl" // FinalLoss per line (when training finished)
	FinalLossesCSVFile   = "final_losses.csv"
	StepLossesCSVFile    = "step_losses.csv" // the training curve
	trainerStateFormat   = "ordermerge-trainer-state"
	trainerStateVersion  = 1
	optimizerMomentName  = "exp_avg."
	optimizerSqMomentKey = "exp_avg_sq."
)

// trainerState is trainer_state.json: everything besides tensors and records that a resume
// needs, and a description of the run. It holds no times, so two identical runs write
// identical files.
type trainerState struct {
	Format        string      `json:"format"`
	Version       int         `json:"version"`
	Config        Config      `json:"config"`
	Step          int         `json:"step"`
	TotalSteps    int         `json:"total_steps"`
	StepsPerEpoch int         `json:"steps_per_epoch"`
	AdamSteps     int         `json:"adam_steps"`
	Examples      int         `json:"examples"`
	DatasetSHA256 string      `json:"dataset_sha256"`
	Truncated     int         `json:"truncated"`
	Completed     bool        `json:"completed"`
	Params        []paramInfo `json:"params"`
	StepLosses    []StepLoss  `json:"step_losses"`
}

type paramInfo struct {
	Name    string `json:"name"`
	Shape   []int  `json:"shape"`
	NoDecay bool   `json:"no_decay,omitempty"`
}

// Save writes a resumable checkpoint to dir: the model in Hugging Face layout (tensors named by
// Param.Name, config.json when the model has one), the AdamW state, trainer_state.json and the
// records. The folder is built beside dir and renamed into place, so dir is never seen half
// written. An existing dir is replaced only if it is a training checkpoint (it has
// trainer_state.json) or holds nothing but Config.KeepFiles; those files are carried over.
func (t *Trainer) Save(dir string) error {
	if err := checkReplaceable(dir, t.cfg.KeepFiles); err != nil {
		return err
	}
	w, err := createModelCheckpoint(dir, t.model, t.lockFor(dir))
	if err != nil {
		return err
	}
	if err := t.writeExtras(w, dir); err != nil {
		w.Abort()
		return err
	}
	if err := w.Commit(); err != nil {
		return err
	}
	t.dir = dir
	t.ck.last = t.ck.clock()
	return nil
}

// checkReplaceable refuses to replace a folder that is not one of ours.
func checkReplaceable(dir string, keep []string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint folder %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Name() == TrainerStateFile {
			return nil
		}
	}
	for _, e := range entries {
		if !slices.Contains(keep, e.Name()) {
			return fmt.Errorf("%s exists and is not a training checkpoint (it has %s and no %s); refusing to replace it", dir, e.Name(), TrainerStateFile)
		}
	}
	return nil
}

// createModelCheckpoint starts a checkpoint with the model's tensors (F32) and config; lock is
// the caller's lock of dir, or nil.
func createModelCheckpoint(dir string, model compute.Model, lock *tensor.FolderLock) (*tensor.CheckpointWriter, error) {
	params := model.Params()
	specs := make([]tensor.Spec, len(params))
	for i, p := range params {
		specs[i] = tensor.Spec{Name: p.Name, DType: tensor.F32, Shape: p.Shape}
	}
	w, err := tensor.CreateCheckpoint(dir, specs, tensor.CheckpointOptions{Overwrite: true, Lock: lock})
	if err != nil {
		return nil, err
	}
	for _, p := range params {
		vals, err := p.Read()
		if err != nil {
			w.Abort()
			return nil, err
		}
		if err := w.WriteTensor(p.Name, f32Bytes(vals)); err != nil {
			w.Abort()
			return nil, err
		}
	}
	if hc, ok := model.(hfConfigured); ok {
		if cfg := hc.HFConfig(); cfg != nil {
			if err := w.AddConfig(cfg); err != nil {
				w.Abort()
				return nil, err
			}
		}
	}
	return w, nil
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	tensor.EncodeFloat32(b, v, tensor.F32) // F32 from float32 cannot fail
	return b
}

// SaveModel writes only the model (Hugging Face layout, F32, config.json when the model has
// one) to dir, atomically. An existing dir is an error unless overwrite is set.
func SaveModel(dir string, model compute.Model, overwrite bool) error {
	if _, err := os.Stat(dir); err == nil && !overwrite {
		return fmt.Errorf("%s already exists (choose another folder or allow overwriting)", dir)
	}
	w, err := createModelCheckpoint(dir, model, nil)
	if err != nil {
		return err
	}
	return w.Commit()
}

// LoadParams reads every parameter of model, by name, from the checkpoint at path (a folder
// or a .safetensors file); F16 and BF16 are widened to float32. A missing tensor or a shape
// mismatch is an error naming it; tensors the model does not have are ignored.
func LoadParams(path string, model compute.Model) error {
	ck, err := tensor.OpenCheckpoint(path)
	if err != nil {
		return err
	}
	defer ck.Close()
	return loadInto(ck, path, model.Params(), "")
}

func loadInto(ck *tensor.Checkpoint, path string, params []*compute.Param, prefix string) error {
	for _, p := range params {
		name := prefix + p.Name
		if _, ok := ck.Entry(name); !ok {
			return fmt.Errorf("%s: no tensor %q", path, name)
		}
		v, shape, err := ck.ReadFloat32(name)
		if err != nil {
			return err
		}
		if !slices.Equal(shape, p.Shape) {
			return fmt.Errorf("%s: tensor %q has shape %v, the model needs %v", path, name, shape, p.Shape)
		}
		if err := p.Write(v); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

func (t *Trainer) writeExtras(w *tensor.CheckpointWriter, dir string) error {
	// AdamW moments, in a safetensors file of their own so merge tools never see them.
	var specs []tensor.Spec
	for _, p := range t.params {
		specs = append(specs, tensor.Spec{Name: optimizerMomentName + p.Name, DType: tensor.F32, Shape: p.Shape})
		specs = append(specs, tensor.Spec{Name: optimizerSqMomentKey + p.Name, DType: tensor.F32, Shape: p.Shape})
	}
	ow, err := tensor.Create(filepath.Join(w.TempDir(), OptimizerFile), specs, map[string]string{"format": "pt"})
	if err != nil {
		return err
	}
	for i, p := range t.params {
		m, err := compute.Read(t.opt.m[i])
		if err != nil {
			ow.Abort()
			return err
		}
		v, err := compute.Read(t.opt.v[i])
		if err != nil {
			ow.Abort()
			return err
		}
		if err := ow.WriteTensor(optimizerMomentName+p.Name, f32Bytes(m)); err != nil {
			ow.Abort()
			return err
		}
		if err := ow.WriteTensor(optimizerSqMomentKey+p.Name, f32Bytes(v)); err != nil {
			ow.Abort()
			return err
		}
	}
	if err := ow.Commit(); err != nil {
		return err
	}

	st := trainerState{
		Format: trainerStateFormat, Version: trainerStateVersion, Config: t.Result().Config,
		Step: t.step, TotalSteps: t.totalSteps, StepsPerEpoch: t.stepsPerEpoch, AdamSteps: t.opt.t,
		Examples: len(t.examples), DatasetSHA256: t.fingerprint, Truncated: t.truncated,
		Completed: t.final != nil, StepLosses: t.losses,
	}
	if st.StepLosses == nil {
		st.StepLosses = []StepLoss{}
	}
	for _, p := range t.params {
		st.Params = append(st.Params, paramInfo{Name: p.Name, Shape: p.Shape, NoDecay: p.NoDecay})
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", TrainerStateFile, err)
	}
	files := []namedWriter{
		{TrainerStateFile, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }},
		{RecordsFile, func(w io.Writer) error { return WriteStepRecordsJSONL(w, t.records) }},
		{RecordsCSVFile, func(w io.Writer) error { return WriteStepRecordsCSV(w, t.records) }},
		{StepLossesCSVFile, func(w io.Writer) error { return WriteStepLossesCSV(w, t.losses) }},
	}
	if t.final != nil {
		files = append(files,
			namedWriter{FinalLossesFile, func(w io.Writer) error { return WriteFinalLossesJSONL(w, t.final) }},
			namedWriter{FinalLossesCSVFile, func(w io.Writer) error { return WriteFinalLossesCSV(w, t.final) }})
	}
	for _, f := range files {
		var buf bytes.Buffer
		if err := f.write(&buf); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if err := w.AddFile(f.name, buf.Bytes()); err != nil {
			return err
		}
	}
	for _, name := range t.cfg.KeepFiles {
		src := filepath.Join(dir, name)
		if _, err := os.Stat(src); err != nil {
			continue // nothing to carry over yet
		}
		if err := w.CopyFile(name, src); err != nil {
			return err
		}
	}
	return nil
}

// namedWriter is one small file of a checkpoint and how to write it.
type namedWriter struct {
	name  string
	write func(io.Writer) error
}

// Resume continues the run saved in dir: it checks that the configuration (every field that
// shapes the trajectory), the data and the model's parameters match the saved run, loads the
// parameters into model, the AdamW moments, the step and the records. Running the returned
// trainer ends with the same bytes as a run that was never interrupted.
func Resume(dir string, model compute.Model, examples []data.Example, cfg Config) (*Trainer, error) {
	b, err := os.ReadFile(filepath.Join(dir, TrainerStateFile))
	if err != nil {
		return nil, fmt.Errorf("resuming from %s: %w", dir, err)
	}
	var st trainerState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, TrainerStateFile), err)
	}
	if st.Format != trainerStateFormat || st.Version != trainerStateVersion {
		return nil, fmt.Errorf("%s: not a trainer state of version %d (format %q, version %d)", filepath.Join(dir, TrainerStateFile), trainerStateVersion, st.Format, st.Version)
	}
	t, err := NewTrainer(model, examples, cfg)
	if err != nil {
		return nil, err
	}
	if err := sameTrajectory(st.Config, t.Result().Config); err != nil {
		return nil, fmt.Errorf("resuming from %s: %w", dir, err)
	}
	if st.DatasetSHA256 != t.fingerprint || st.Examples != len(t.examples) {
		return nil, fmt.Errorf("resuming from %s: the data differ from the saved run's (%d samples, sha256 %.12s; now %d samples, %.12s)", dir, st.Examples, st.DatasetSHA256, len(t.examples), t.fingerprint)
	}
	if len(st.Params) != len(t.params) {
		return nil, fmt.Errorf("resuming from %s: the saved run has %d parameters, the model %d", dir, len(st.Params), len(t.params))
	}
	for i, p := range t.params {
		if st.Params[i].Name != p.Name || !slices.Equal(st.Params[i].Shape, p.Shape) {
			return nil, fmt.Errorf("resuming from %s: parameter %d is %q %v in the saved run, %q %v in the model", dir, i, st.Params[i].Name, st.Params[i].Shape, p.Name, p.Shape)
		}
	}
	if st.Step < 0 || st.Step > t.totalSteps || len(st.StepLosses) != st.Step {
		return nil, fmt.Errorf("%s: inconsistent step %d (of %d, %d step losses)", filepath.Join(dir, TrainerStateFile), st.Step, t.totalSteps, len(st.StepLosses))
	}

	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	err = loadInto(ck, dir, t.params, "")
	ck.Close()
	if err != nil {
		return nil, err
	}
	optPath := filepath.Join(dir, OptimizerFile)
	ock, err := tensor.OpenCheckpoint(optPath)
	if err != nil {
		return nil, err
	}
	defer ock.Close()
	for i, p := range t.params {
		for _, m := range []struct {
			name string
			dst  compute.Buf
		}{{optimizerMomentName + p.Name, t.opt.m[i]}, {optimizerSqMomentKey + p.Name, t.opt.v[i]}} {
			v, shape, err := ock.ReadFloat32(m.name)
			if err != nil {
				return nil, err
			}
			if !slices.Equal(shape, p.Shape) {
				return nil, fmt.Errorf("%s: tensor %q has shape %v, want %v", optPath, m.name, shape, p.Shape)
			}
			if err := compute.Write(m.dst, v); err != nil {
				return nil, fmt.Errorf("%s: tensor %q: %w", optPath, m.name, err)
			}
		}
	}
	t.opt.t = st.AdamSteps
	t.step = st.Step
	t.losses = st.StepLosses
	t.records, err = ReadStepRecords(filepath.Join(dir, RecordsFile))
	if err != nil {
		return nil, err
	}
	if n := len(t.records); n > 0 && t.records[n-1].Step != t.step {
		return nil, fmt.Errorf("%s: records end at step %d, the state says step %d", filepath.Join(dir, RecordsFile), t.records[n-1].Step, t.step)
	}
	if st.Completed {
		t.final, err = ReadFinalLosses(filepath.Join(dir, FinalLossesFile))
		if err != nil {
			return nil, err
		}
	}
	t.dir = dir
	return t, nil
}

// sameTrajectory compares the fields of two configs that shape training (all JSON fields but
// log_every) and names the first that differs.
func sameTrajectory(saved, now Config) error {
	saved.LogEvery, now.LogEvery = 0, 0
	a, err := toMap(saved)
	if err != nil {
		return err
	}
	b, err := toMap(now)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if string(a[k]) != string(b[k]) {
			return fmt.Errorf("config %s is %s in the saved run but %s now (a resumed run must keep every setting)", k, a[k], b[k])
		}
	}
	return nil
}

func toMap(c Config) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	return m, json.Unmarshal(b, &m)
}
