package sft

import (
	"fmt"
	"math"

	"github.com/ordermerge/ordermerge/compute"
)

// adamW is AdamW with decoupled weight decay (Loshchilov & Hutter), matching PyTorch's
// torch.optim.AdamW update: decay, moments, bias correction, then the step. Its moments live
// on the model's device, and the update runs there (compute.Kernels.AdamW).
type adamW struct {
	dev    compute.Device
	params []*compute.Param
	m, v   []compute.Buf
	t      int // number of updates done (bias correction)
}

func newAdamW(dev compute.Device, params []*compute.Param) (*adamW, error) {
	o := &adamW{dev: dev, params: params, m: make([]compute.Buf, len(params)), v: make([]compute.Buf, len(params))}
	for i, p := range params {
		var err error
		if o.m[i], err = dev.Alloc(compute.F32, p.Value.Len()); err != nil {
			return nil, fmt.Errorf("optimizer state of %s: %w", p.Name, err)
		}
		if o.v[i], err = dev.Alloc(compute.F32, p.Value.Len()); err != nil {
			return nil, fmt.Errorf("optimizer state of %s: %w", p.Name, err)
		}
	}
	return o, nil
}

// optimizerBytes is the device memory AdamW's moments take for params.
func optimizerBytes(params []*compute.Param) int64 {
	var n int64
	for _, p := range params {
		n += int64(p.Value.Len())
	}
	return 2 * 4 * n
}

// gradNorm returns the global L2 norm of all gradients, summed in float64 in a fixed order.
func (o *adamW) gradNorm() (float64, error) {
	grads := make([]compute.Buf, len(o.params))
	for i, p := range o.params {
		grads[i] = p.Grad
	}
	ss, err := o.dev.SumSquares(grads)
	if err != nil {
		return 0, fmt.Errorf("gradient norm: %w", err)
	}
	return math.Sqrt(ss), nil
}

// step applies one update with learning rate lr; gradScale multiplies every gradient first
// (global-norm clipping).
func (o *adamW) step(c *Config, lr float64, gradScale float64) {
	o.t++
	ps := make([]compute.AdamWParam, len(o.params))
	for i, p := range o.params {
		ps[i] = compute.AdamWParam{Value: p.Value, Grad: p.Grad, M: o.m[i], V: o.v[i], NoDecay: p.NoDecay}
	}
	o.dev.AdamW(ps, compute.AdamWStep{LR: lr, Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, WeightDecay: c.WeightDecay, GradScale: gradScale, Step: o.t})
}

// zeroGrads clears every gradient before a step accumulates into them.
func zeroGrads(params []*compute.Param) {
	for _, p := range params {
		p.Grad.Device().Zero(p.Grad)
	}
}
