package eval

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// tinyTask returns a few arith samples and a byte-level tokenizer.
func tinyTask(t *testing.T, n int) (*data.Dataset, tokenizer.Tokenizer) {
	t.Helper()
	task, err := data.Embedded("arith")
	if err != nil {
		t.Fatal(err)
	}
	return task.Train.Head(n), tokenizer.ByteLevel()
}

func tinyModel(t *testing.T, tok tokenizer.Tokenizer) *llama.Model {
	t.Helper()
	cfg := tensor.NewLlamaConfig(48, 96, 2, 4, 2, tok.VocabSize(), 96)
	m, err := llama.New(cfg, 7, llama.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A model trained until it memorises a handful of samples answers them correctly through the
// whole pipeline (template, generation with stop tokens, decoding, metric); the untrained
// model does not.
func TestEvaluateMemorisedSamples(t *testing.T) {
	ds, tok := tinyTask(t, 6)
	m := tinyModel(t, tok)
	before, err := Evaluate(context.Background(), m, tok, ds, Options{Losses: true})
	if err != nil {
		t.Fatal(err)
	}
	if before.Correct != 0 {
		t.Fatalf("untrained model got %d/%d right", before.Correct, before.N)
	}
	exs, err := ds.Encode(tok, data.EncodeOptions{MaxLen: 97})
	if err != nil {
		t.Fatal(err)
	}
	pad, _ := tok.Special(tokenizer.PAD)
	cfg := sft.Config{Epochs: 150, BatchSize: 6, LR: 3e-3, Schedule: sft.ScheduleConstant, PadID: pad}
	if _, err := sft.Train(context.Background(), m, exs, cfg); err != nil {
		t.Fatal(err)
	}
	var calls int
	after, err := Evaluate(context.Background(), m, tok, ds, Options{Losses: true, BatchSize: 4, Progress: func(done, total int) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if after.Correct != after.N || after.Accuracy != 1 {
		for _, s := range after.Samples {
			t.Logf("%s: want %q got %q (%s)", s.ID, s.Reference, s.Generated, s.Reason)
		}
		t.Fatalf("memorised samples: %d/%d correct", after.Correct, after.N)
	}
	if !(after.MeanLoss < 0.1*before.MeanLoss) || calls != 2 {
		t.Errorf("mean loss %g (before %g), progress calls %d", after.MeanLoss, before.MeanLoss, calls)
	}
	for i, s := range after.Samples {
		if s.ID != ds.Samples[i].ID || s.Generated != s.Reference || math.IsNaN(s.Loss) {
			t.Errorf("sample %d: %+v", i, s)
		}
	}
	if after.String() == "" || after.Markdown() == "" || after.HTML() == "" {
		t.Error("empty rendering")
	}
}

func TestEvaluateErrors(t *testing.T) {
	ds, tok := tinyTask(t, 4)
	m := tinyModel(t, tok)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Evaluate(ctx, m, tok, ds, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := Evaluate(context.Background(), m, tok, &data.Dataset{Name: "empty"}, Options{}); err == nil {
		t.Error("empty dataset accepted")
	}
	small, err := llama.New(tensor.NewLlamaConfig(16, 32, 1, 2, 2, 100, 32), 1, llama.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Evaluate(context.Background(), small, tok, ds, Options{}); err == nil {
		t.Error("tokenizer larger than the vocabulary accepted")
	}
}
