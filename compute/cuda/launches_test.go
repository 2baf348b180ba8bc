//go:build linux

package cuda_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cuda"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/tensor"
)

// launchLog counts the kernels and products a device queues, and the float32 values the
// f32 -> bf16 casts among them convert.
type launchLog struct {
	count     map[string]int
	castElems []int64
}

func record(d *cuda.Device) *launchLog {
	l := &launchLog{count: map[string]int{}}
	cuda.Record(d, func(name string, args []uint64) {
		l.count[name]++
		if name == "cast_f32_bf16" {
			l.castElems = append(l.castElems, int64(args[2]))
		}
	})
	return l
}

func (l *launchLog) total() int {
	n := 0
	for _, c := range l.count {
		n += c
	}
	return n
}

func (l *launchLog) String() string {
	names := make([]string, 0, len(l.count))
	for k := range l.count {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, " %s=%d", k, l.count[k])
	}
	return fmt.Sprintf("%d launches:%s", l.total(), b.String())
}

// stepLaunches records one training step's forward and backward pass (ForwardBackward) of
// a Llama of cfg at prec on the device.
func stepLaunches(t *testing.T, cfg *tensor.Config, prec compute.Precision) *launchLog {
	t.Helper()
	_, g := models(t, cfg, prec, 5)
	b := batch(seeded.New(6), 3, 37, cfg.VocabSize)
	w := []float32{0.5, 1, 2}
	if _, err := g.ForwardBackward(b, w); err != nil { // sizes the buffers
		t.Fatal(err)
	}
	d := device(t)
	l := record(d)
	defer cuda.Record(d, nil)
	if _, err := g.ForwardBackward(b, w); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestBF16StepCasts checks that a bf16 training step casts nothing to bf16 but the weights
// (one launch over all of them): the norms, SwiGLU, attention and the gradients that feed
// the products write their bf16 copies themselves. It logs the launches of a step.
func TestBF16StepCasts(t *testing.T) {
	for _, layers := range []int{2, 3} {
		cfg := tinyConfig(false)
		cfg.NumHiddenLayers = layers
		for _, prec := range []compute.Precision{compute.PrecisionF32, compute.PrecisionBF16} {
			l := stepLaunches(t, cfg, prec)
			t.Logf("%d layers, %s: %v", layers, prec, l)
			if prec != compute.PrecisionBF16 {
				if len(l.castElems) != 0 {
					t.Errorf("%s: %d casts to bf16", prec, len(l.castElems))
				}
				continue
			}
			params := int64(llama.NumParamsOf(cfg))
			for _, n := range l.castElems {
				if n != params {
					t.Errorf("%d layers: a cast of %d values to bf16 in the step (only the %d weights should be cast)", layers, n, params)
				}
			}
			if len(l.castElems) != 1 {
				t.Errorf("%d layers: %d casts to bf16 in the step, want 1 (the weights)", layers, len(l.castElems))
			}
		}
	}
}
