package compute

import (
	"fmt"
	"strings"
)

// DType is the element type of a device buffer.
type DType uint8

// Element types of device buffers. BF16 buffers hold bfloat16 values: on a GPU two bytes
// each; on the CPU device float32 values rounded to bfloat16 (the same numbers, the same
// products, without the memory saving).
const (
	F32 DType = 1 + iota
	BF16
	I32
)

// Size is the number of bytes one element takes in device memory.
func (d DType) Size() int {
	if d == BF16 {
		return 2
	}
	return 4
}

func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case BF16:
		return "bf16"
	case I32:
		return "i32"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Precision is how a model computes its matrix products.
type Precision string

// Precisions a model can compute in. F32 is exact float32 everywhere. TF32 keeps float32
// storage but lets a GPU's tensor cores round product inputs to 10-bit mantissas (CUDA only).
// BF16 is mixed precision as PyTorch's autocast does it: the inputs of every matrix product
// (weights and activations) are rounded to bfloat16, products accumulate in float32, and the
// master weights, gradients, optimizer state, norms, softmax and loss stay float32.
const (
	PrecisionF32  Precision = "f32"
	PrecisionTF32 Precision = "tf32"
	PrecisionBF16 Precision = "bf16"
)

// ParsePrecision reads "f32" (also "" and "float32"), "tf32" or "bf16" ("bfloat16").
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "f32", "fp32", "float32":
		return PrecisionF32, nil
	case "tf32":
		return PrecisionTF32, nil
	case "bf16", "bfloat16":
		return PrecisionBF16, nil
	}
	return "", fmt.Errorf("precision %q is not f32, tf32 or bf16", s)
}

// ProductDType is the dtype the inputs of matrix products are stored in at precision p.
func (p Precision) ProductDType() DType {
	if p == PrecisionBF16 {
		return BF16
	}
	return F32
}
