package merge

import "github.com/ordermerge/ordermerge/tensor"

// mergekit computes in its `dtype`: with bfloat16 every tensor operation rounds its result to
// bf16 (reductions accumulate in float32 first, as PyTorch's CPU kernels do). The kernels of
// linear and the task-vector family follow that operation by operation when
// TensorInfo.Compute is BF16 or F16; the other methods compute in float32 and round once.

// RoundTo rounds x to the nearest value representable in dt (to nearest, ties to even): BF16
// and F16 round, every other dtype returns x. Kernels use it to emulate a compute dtype.
func RoundTo(dt tensor.DType, x float32) float32 {
	switch dt {
	case tensor.BF16:
		return tensor.Float32FromBF16(tensor.BF16FromFloat32(x))
	case tensor.F16:
		return tensor.Float32FromF16(tensor.F16FromFloat32(x))
	}
	return x
}

// reduced says whether dt is a compute dtype narrower than float32.
func reduced(dt tensor.DType) bool { return dt == tensor.BF16 || dt == tensor.F16 }

// tensorCompute is the dtype a tensor is computed in: the config's dtype when it sets one,
// else the inputs' dtype when they all have the same one (mergekit computes in the stored
// dtype), else float32.
func tensorCompute(set tensor.DType, inputs []tensor.DType) tensor.DType {
	if set != tensor.Invalid {
		return set
	}
	if len(inputs) == 0 {
		return tensor.F32
	}
	for _, d := range inputs[1:] {
		if d != inputs[0] {
			return tensor.F32
		}
	}
	if inputs[0].IsFloat() {
		return inputs[0]
	}
	return tensor.F32
}

// roundAll rounds v in place to dt.
func roundAll(dt tensor.DType, v []float32) {
	for i, x := range v {
		v[i] = RoundTo(dt, x)
	}
}
