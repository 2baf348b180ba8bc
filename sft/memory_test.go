package sft_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/devices"
	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
)

// What train checks before it builds a model (llama.EstimateMemory and AdamW's moments, see
// cmd/ordermerge) is a lower bound of what training really allocates on the CPU, so it never
// refuses a run that fits, and not far below what stays allocated, so it refuses runs that
// cannot fit.
func TestPreflightMemoryEstimateBoundsWhatTrainingAllocates(t *testing.T) {
	mc := tensor.NewLlamaConfig(128, 256, 3, 4, 2, 300, 64)
	cfg := sft.Config{Epochs: 1, BatchSize: 4, LR: 1e-3}
	exs := make([]data.Example, 8)
	for i := range exs {
		toks := make([]int32, 64)
		for j := range toks {
			toks[j] = int32((i*7 + j*3) % 300)
		}
		exs[i] = data.Example{ID: fmt.Sprint(i), Tokens: toks, PromptLen: 8}
	}
	dev, err := devices.Open("cpu", devices.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mm, err := llama.EstimateMemory(dev, mc, compute.PrecisionF32, cfg.BatchSize, 63, true)
	if err != nil {
		t.Fatal(err)
	}
	est := mm.Total() + 8*int64(llama.NumParamsOf(mc))

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := llama.New(mc, 1, llama.Options{Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := sft.NewTrainer(m, exs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	allocated := int64(after.TotalAlloc - before.TotalAlloc)
	live := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	runtime.KeepAlive(tr)
	t.Logf("estimate %s (%+v); allocated %s, live after the run %s", tensor.FormatBytes(est), mm, tensor.FormatBytes(allocated), tensor.FormatBytes(live))
	if est > allocated {
		t.Errorf("estimate %d bytes is more than training allocated (%d)", est, allocated)
	}
	if est < live/2 {
		t.Errorf("estimate %d bytes is less than half of what stays allocated (%d)", est, live)
	}
}
