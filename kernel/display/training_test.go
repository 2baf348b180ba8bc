package display_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/kernel/display"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/study"
)

// recorder keeps every text/plain a cell would show, and whether it was an update.
type recorder struct {
	mu    sync.Mutex
	texts []string
	ids   map[string]bool
	upd   int
}

func (r *recorder) PublishDisplay(data, _ map[string]any, id string, update bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[string]bool{}
	}
	r.ids[id] = true
	if update {
		r.upd++
	}
	r.texts = append(r.texts, fmt.Sprint(data["text/plain"]))
	return nil
}

func copyTask(n int) []data.Example {
	rng := sft.NewRNG(2)
	out := make([]data.Example, n)
	for i := range out {
		a, b := int32(1+rng.Intn(20)), int32(1+rng.Intn(20))
		out[i] = data.Example{ID: fmt.Sprintf("c-%02d", i), Tokens: []int32{a, b, 21, a, b}, PromptLen: 3}
	}
	return out
}

func TestTrainVariantsShowsOneBarOverAllSteps(t *testing.T) {
	rec := &recorder{}
	d := display.New(display.Host{Publisher: rec, Context: context.Background})
	base, err := sft.NewTinyModel(sft.TinyConfig{Vocab: 22, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// 20 examples in batches of 8: 3 steps an epoch, 6 a variant, 12 for both.
	var seen int
	cfg := sft.Config{Epochs: 2, BatchSize: 8, LR: 3e-3, Progress: func(sft.Progress) { seen++ }}
	res, err := d.TrainVariants(base, copyTask(20), cfg, sft.VariantSeeds(2, 1), "")
	if err != nil || len(res) != 2 {
		t.Fatalf("TrainVariants: %d results, %v", len(res), err)
	}
	if seen == 0 {
		t.Error("the caller's Progress callback was not called")
	}
	if len(rec.ids) != 1 || rec.upd == 0 {
		t.Fatalf("want one display updated in place, got ids %v, %d updates", rec.ids, rec.upd)
	}
	last := rec.texts[len(rec.texts)-1]
	if !strings.Contains(last, "12/12 (100%") || !strings.HasPrefix(last, "fine-tuning 2 order variants") {
		t.Errorf("final bar %q, want 12/12 steps counted by the helper", last)
	}
	// An interrupted run keeps its bar where it stopped and says why.
	ctx, cancel := context.WithCancel(context.Background())
	rec2 := &recorder{}
	d2 := display.New(display.Host{Publisher: rec2, Context: func() context.Context { return ctx }})
	cfg.Progress = func(p sft.Progress) {
		if p.Phase == "train" {
			cancel()
		}
	}
	_, err = d2.TrainVariants(base, copyTask(20), cfg, sft.VariantSeeds(2, 1), "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted TrainVariants: %v", err)
	}
	if last := rec2.texts[len(rec2.texts)-1]; !strings.Contains(last, "stopped") || strings.Contains(last, "100%") {
		t.Errorf("interrupted bar %q", last)
	}
}

func TestStudyProgressIsOneLine(t *testing.T) {
	rec := &recorder{}
	d := display.New(display.Host{Publisher: rec, Context: context.Background})
	p := d.StudyProgress()
	p(study.Event{Stage: "base", Message: "pre-training the base model"})
	if rec.texts[0] != "pre-training the base model" {
		t.Errorf("a stage without a count shows %q, want just its message", rec.texts[0])
	}
	for i := 1; i <= 50; i++ {
		p(study.Event{Stage: "base", Message: fmt.Sprintf("pre-training: step %d", i), Done: i, Total: 50})
	}
	p(study.Event{Stage: "dataset", Message: "dataset 1 of 2: strings", Done: 0, Total: 2})
	if len(rec.ids) != 1 {
		t.Fatalf("%d displays, want one line updated in place", len(rec.ids))
	}
	// 52 events in well under 100 ms: the first, the last step of a count and each change of
	// stage are shown at once.
	if len(rec.texts) > 6 {
		t.Errorf("%d updates for 52 events: not throttled", len(rec.texts))
	}
	if last := rec.texts[len(rec.texts)-1]; !strings.HasPrefix(last, "dataset 1 of 2: strings [") || !strings.Contains(last, "0/2") {
		t.Errorf("last line %q", last)
	}
}

func ExampleDisplay_TrainVariants() {
	d := display.New(display.Host{Publisher: lastLine{}, Context: context.Background})
	base, _ := sft.NewTinyModel(sft.TinyConfig{Vocab: 22, Seed: 1})
	res, err := d.TrainVariants(base, copyTask(20), sft.Config{Epochs: 1, BatchSize: 8, LR: 3e-3}, sft.VariantSeeds(2, 1), "")
	fmt.Println(len(res), "variants,", err)
	// Output:
	// 2 variants, <nil>
}

// lastLine is a Publisher that shows nothing (a progress bar's text holds timings).
type lastLine struct{}

func (lastLine) PublishDisplay(map[string]any, map[string]any, string, bool) error { return nil }
