package sft

import (
	"fmt"

	"github.com/ordermerge/ordermerge/data"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/tensor"
)

// MemoryEstimate is what a training run needs on its device, by part, in bytes.
type MemoryEstimate struct {
	Device string
	// Model is the model's parameters, gradients and activations for one micro-batch of
	// Batch x Seq tokens (zero parts for a model that cannot estimate itself).
	Model      compute.ModelMemory
	Batch, Seq int
	// Optimizer is AdamW's two moments.
	Optimizer int64
	// Free and DeviceTotal are the device's memory when the run was planned.
	Free, DeviceTotal int64
}

// Total is every part together.
func (e MemoryEstimate) Total() int64 { return e.Model.Total() + e.Optimizer }

// String is one line with the numbers.
func (e MemoryEstimate) String() string {
	return fmt.Sprintf("about %s on %s (parameters %s, gradients %s, optimizer %s, activations %s for micro-batches of %d x %d tokens); %s free of %s",
		tensor.FormatBytes(e.Total()), e.Device, tensor.FormatBytes(e.Model.Params), tensor.FormatBytes(e.Model.Grads),
		tensor.FormatBytes(e.Optimizer), tensor.FormatBytes(e.Model.Activations), e.Batch, e.Seq, tensor.FormatBytes(e.Free), tensor.FormatBytes(e.DeviceTotal))
}

// memoryEstimator is implemented by models that know their device memory (the Llama model).
type memoryEstimator interface {
	MemoryEstimate(b, t int, training bool) (compute.ModelMemory, error)
}

// MemoryEstimate estimates the run's device memory from its longest sample and micro-batch.
func (t *Trainer) MemoryEstimate() MemoryEstimate {
	return estimateMemory(t.model, t.params, t.examples, t.cfg.MicroBatchSize)
}

func estimateMemory(model compute.Model, params []*compute.Param, examples []data.Example, batch int) MemoryEstimate {
	dev := model.Device()
	st := dev.MemoryStats()
	e := MemoryEstimate{Device: dev.Name(), Batch: batch, Free: st.Free, DeviceTotal: st.Total}
	for _, ex := range examples {
		e.Seq = max(e.Seq, len(ex.Tokens)-1)
	}
	e.Optimizer = optimizerBytes(params)
	if me, ok := model.(memoryEstimator); ok {
		if m, err := me.MemoryEstimate(e.Batch, max(e.Seq, 1), true); err == nil {
			e.Model = m
		}
	}
	return e
}

// checkMemory refuses a run that cannot fit: what is not allocated yet (the optimizer state
// and the activations; the parameters and gradients exist already) must fit in the device's
// free memory.
func checkMemory(e MemoryEstimate) error {
	need := e.Optimizer + e.Model.Activations
	if e.Free > 0 && need > e.Free {
		return fmt.Errorf("training does not fit: it needs %s; lower --micro-batch or --max-seq-len, or use a larger device", e)
	}
	return nil
}

// PeakMemory is the most device memory this process's buffers took on the run's device so
// far (all models on it together).
func (t *Trainer) PeakMemory() int64 { return t.model.Device().MemoryStats().Peak }
