package llama

import (
	"fmt"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/tensor"
)

// EstimateMemory estimates what a model of cfg at precision prec takes on dev for a batch of
// b sequences of t tokens (with the backward pass's buffers when training), before any of it
// is allocated.
func EstimateMemory(dev compute.Device, cfg *tensor.Config, prec compute.Precision, b, t int, training bool) (compute.ModelMemory, error) {
	if err := CheckConfig(cfg); err != nil {
		return compute.ModelMemory{}, err
	}
	if b <= 0 || t <= 0 {
		return compute.ModelMemory{}, fmt.Errorf("llama: memory estimate for a batch of %d x %d", b, t)
	}
	n := int64(NumParamsOf(cfg))
	d := dimsOf(cfg)
	a, _ := archOf(cfg)
	m := compute.ModelMemory{Params: 4 * n, Grads: 4 * n}
	if prec == compute.PrecisionBF16 {
		m.Params += 2 * n
	}
	m.Params += 2 * 4 * int64(cfg.MaxPositionEmbeddings) * int64(d.HD/2) // RoPE tables
	m.Activations = actSizes(dev, d, a, prec, b, t, training).bytes()
	return m, nil
}

// MemoryEstimate is EstimateMemory for this model.
func (m *Model) MemoryEstimate(b, t int, training bool) (compute.ModelMemory, error) {
	return EstimateMemory(m.dev, m.cfg, m.prec, b, t, training)
}
