package merge

import (
	"context"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

// panicSink fails the way a bug would: by panicking on a worker's writer goroutine.
type panicSink struct{}

func (panicSink) writeChunk(name string, off int64, p []byte) error {
	var xs []byte
	_ = xs[off+int64(len(p))] // index out of range
	return nil
}

// A panic on one of the engine's goroutines (a worker merging a tensor, or its writer) is the
// merge's error, naming the tensor, instead of the end of the process.
func TestWorkerPanicIsAnError(t *testing.T) {
	f32 := func(vals ...float32) *tensor.Tensor {
		tt, err := tensor.FromFloat32("w", []int{len(vals)}, vals, tensor.F32)
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	in := planInput{method: "linear", settings: settings{global: map[string]value{}, model: []map[string]value{{}, {}}}}
	for i, v := range []float32{1, 3} {
		src, err := newMemorySource("m", Model{"w": f32(v, v)})
		if err != nil {
			t.Fatal(err)
		}
		in.models = append(in.models, src)
		in.labels = append(in.labels, []string{"a", "b"}[i])
	}
	pl, err := buildPlan(in)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pl.execute(context.Background(), panicSink{}, runOptions{workers: 2})
	if err == nil || !strings.Contains(err.Error(), "tensor w: panic while writing") || !strings.Contains(err.Error(), "index out of range") {
		t.Fatalf("got %v", err)
	}
}
