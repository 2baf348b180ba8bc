package sft

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordermerge/ordermerge/tensor"
)

// savedStep is the step of the checkpoint in dir, or -1 when there is none.
func savedStep(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, TrainerStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	var st trainerState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st.Step
}

// Without CheckpointEvery, a run with a checkpoint folder still saves every few minutes, so a
// killed run loses at most that much; the checkpoints change nothing in the result.
func TestCheckpointsOnATimeCadenceByDefault(t *testing.T) {
	exs := copyTask(24, testVocab, 1)
	run := func(interval time.Duration) (map[int]int, map[string][]byte) {
		dir := filepath.Join(t.TempDir(), "run")
		cfg := Config{Epochs: 1, BatchSize: 2, LR: 1e-2, OrderSeed: 3, LogEvery: 1, CheckpointDir: dir, CheckpointInterval: interval}
		seen := map[int]int{}
		cfg.Progress = func(p Progress) {
			if p.Phase == "train" {
				seen[p.Step] = savedStep(t, dir)
			}
		}
		tr, err := NewTrainer(newTiny(t, testVocab, 1), exs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Each step takes one minute of this clock.
		base := time.Unix(1e9, 0)
		tr.ck.now = func() time.Time { return base.Add(time.Duration(tr.step) * time.Minute) }
		if _, err := tr.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return seen, dirFiles(t, dir)
	}
	seen, byDefault := run(0)
	for step, want := range map[int]int{1: -1, 5: -1, 6: 5, 10: 5, 11: 10, 12: 10} {
		if seen[step] != want {
			t.Errorf("default cadence (%v): at step %d the checkpoint is of step %d, want %d", DefaultCheckpointInterval, step, seen[step], want)
		}
	}
	seen, never := run(-1)
	if seen[11] != -1 {
		t.Errorf("no time cadence: a checkpoint of step %d before the end", seen[11])
	}
	seen, often := run(time.Minute)
	if seen[7] != 6 {
		t.Errorf("one-minute cadence: at step 7 the checkpoint is of step %d", seen[7])
	}
	for name, b := range byDefault {
		if string(never[name]) != string(b) || string(often[name]) != string(b) {
			t.Errorf("%s differs with the checkpoint cadence", name)
		}
	}
}

// While a run trains into a folder, no other run can write there.
func TestRunHoldsTheCheckpointFolderLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cfg := smallConfig()
	cfg.CheckpointDir = dir
	var during error
	cfg.Progress = func(p Progress) {
		if during == nil {
			_, during = tensor.LockFolder(dir)
		}
	}
	if _, err := Train(context.Background(), newTiny(t, testVocab, 1), copyTask(8, testVocab, 2), cfg); err != nil {
		t.Fatal(err)
	}
	var le *tensor.LockedError
	if !errors.As(during, &le) || le.PID != os.Getpid() {
		t.Fatalf("locking the folder of a running trainer: %v", during)
	}
	// A second trainer into the same folder is refused before it trains a step.
	l, err := tensor.LockFolder(dir)
	if err != nil {
		t.Fatalf("after the run: %v", err)
	}
	defer l.Unlock()
	cfg.Progress = nil
	res, err := Train(context.Background(), newTiny(t, testVocab, 1), copyTask(8, testVocab, 2), cfg)
	if err == nil || !strings.Contains(err.Error(), "is being written by process") || res.Steps != 0 {
		t.Fatalf("a second run into a locked folder: %v", err)
	}
	// The holder passes its lock to the run, which saves under it.
	cfg.CheckpointLock = l
	if _, err := Train(context.Background(), newTiny(t, testVocab, 1), copyTask(8, testVocab, 2), cfg); err != nil {
		t.Fatalf("with the caller's lock: %v", err)
	}
	if savedStep(t, dir) != 6 {
		t.Fatalf("saved step %d", savedStep(t, dir))
	}
}
