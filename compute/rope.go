package compute

import (
	"fmt"
	"math"
)

// RoPEInvFreq returns the inverse frequencies of plain rotary embeddings,
// theta^(-2i/headDim) for the headDim/2 pairs, computed as transformers does (in float64,
// stored as float32). Scaled variants (Llama 3.1's, linear, dynamic) adjust these.
func RoPEInvFreq(headDim int, theta float64) ([]float32, error) {
	if headDim <= 0 || headDim%2 != 0 {
		return nil, fmt.Errorf("rope: head dimension %d must be positive and even", headDim)
	}
	if !(theta > 0) || math.IsInf(theta, 0) {
		return nil, fmt.Errorf("rope: theta %g must be positive", theta)
	}
	inv := make([]float32, headDim/2)
	for i := range inv {
		inv[i] = float32(1 / math.Pow(theta, float64(2*i)/float64(headDim)))
	}
	return inv, nil
}

// RoPEAngles returns the cosine and sine tables for positions [0, maxPos) and the given
// inverse frequencies (maxPos x len(invFreq) each, position-major): the angle is the float32
// product position*invFreq, as transformers computes it, and its cos and sin are taken in
// float64 and rounded.
func RoPEAngles(maxPos int, invFreq []float32) (cos, sin []float32, err error) {
	if maxPos <= 0 {
		return nil, nil, fmt.Errorf("rope: max positions %d must be positive", maxPos)
	}
	half := len(invFreq)
	cos, sin = make([]float32, maxPos*half), make([]float32, maxPos*half)
	for p := 0; p < maxPos; p++ {
		for i, f := range invFreq {
			ang := float64(float32(p) * f)
			cos[p*half+i] = float32(math.Cos(ang))
			sin[p*half+i] = float32(math.Sin(ang))
		}
	}
	return cos, sin, nil
}

// NewRoPETable uploads rotation tables to dev.
func NewRoPETable(dev Device, maxPos int, invFreq []float32) (RoPETable, error) {
	cos, sin, err := RoPEAngles(maxPos, invFreq)
	if err != nil {
		return RoPETable{}, err
	}
	t := RoPETable{MaxPos: maxPos}
	if t.Cos, err = dev.Alloc(F32, len(cos)); err != nil {
		return RoPETable{}, err
	}
	if t.Sin, err = dev.Alloc(F32, len(sin)); err != nil {
		return RoPETable{}, err
	}
	if err := dev.WriteF32(t.Cos, cos); err != nil {
		return RoPETable{}, err
	}
	if err := dev.WriteF32(t.Sin, sin); err != nil {
		return RoPETable{}, err
	}
	return t, nil
}
