package sft_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
)

// llamaTask: prompt "a b SEP", response "b a" over tokens 1..10 (SEP 11, vocab 16).
func llamaTask(n int) []data.Example {
	rng := sft.NewRNG(3)
	out := make([]data.Example, n)
	for i := range out {
		a, b := int32(1+rng.Intn(10)), int32(1+rng.Intn(10))
		out[i] = data.Example{ID: fmt.Sprintf("swap-%02d", i), Tokens: []int32{a, b, 11, b, a, 12}, PromptLen: 3}
	}
	return out
}

func newLlama(t *testing.T, seed uint64) *llama.Model {
	t.Helper()
	cfg := tensor.NewLlamaConfig(32, 64, 2, 4, 2, 16, 16)
	m, err := llama.New(cfg, seed, llama.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTrainLlama trains the real model with the trainer: the loss falls, two runs write the
// same bytes, a cancelled-and-resumed run ends with the same bytes, and the checkpoint loads
// back as a Llama model.
func TestTrainLlama(t *testing.T) {
	exs := llamaTask(24)
	dir := t.TempDir()
	cfg := sft.Config{Epochs: 30, BatchSize: 8, MicroBatchSize: 4, LR: 1e-2, WarmupSteps: 2, WeightDecay: 0.01, OrderSeed: 1}
	run := func(name string, stopAt int) *sft.Result {
		c := cfg
		c.CheckpointDir = filepath.Join(dir, name)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c.LogEvery = 1
		c.Progress = func(p sft.Progress) {
			if p.Phase == "train" && p.Step == stopAt {
				cancel()
			}
		}
		res, err := sft.Train(ctx, newLlama(t, 5), exs, c)
		if stopAt == 0 && err != nil {
			t.Fatal(err)
		}
		if stopAt > 0 {
			if err == nil || res.Steps != stopAt {
				t.Fatalf("cancelled at step %d: %d steps, err %v", stopAt, res.Steps, err)
			}
			tr, err := sft.Resume(c.CheckpointDir, newLlama(t, 77), exs, c)
			if err != nil {
				t.Fatal(err)
			}
			if res, err = tr.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		return res
	}
	a := run("a", 0)
	if first, last := a.StepLosses[0].Loss, a.StepLosses[len(a.StepLosses)-1].Loss; !(last < 0.2*first) {
		t.Errorf("llama step loss went from %g to %g", first, last)
	}
	run("b", 0)
	run("c", 7)
	for _, f := range []string{tensor.SingleFile, tensor.ConfigFile, sft.OptimizerFile, sft.TrainerStateFile, sft.RecordsFile, sft.FinalLossesFile} {
		fa, err := os.ReadFile(filepath.Join(dir, "a", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range []string{"b", "c"} {
			fo, err := os.ReadFile(filepath.Join(dir, other, f))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fa, fo) {
				t.Errorf("%s differs between run a and run %s", f, other)
			}
		}
	}
	m, err := llama.Load(filepath.Join(dir, "a"), llama.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Loss(sft.PackBatch(exs[:1], 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range a.Final {
		// Alone in its batch the sample's loss may differ in the last bits (other matrix shapes).
		if f.ID == exs[0].ID && math.Abs(float64(l[0])-f.Loss) > 1e-5*(1+f.Loss) {
			t.Errorf("loaded model's loss %g, recorded %g", l[0], f.Loss)
		}
	}
}
