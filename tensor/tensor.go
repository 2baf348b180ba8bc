package tensor

import (
	"fmt"
	"math"
	"strings"
)

// Tensor is a named, typed, shaped block of raw little-endian row-major data, as stored in a
// safetensors file.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Numel returns the number of elements of shape (1 for a scalar), or an error if a dimension is
// negative or the product overflows.
func Numel(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt64/8/d {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n *= d
	}
	return n, nil
}

// ByteSize returns the number of bytes of a tensor of this dtype and shape.
func ByteSize(dt DType, shape []int) (int64, error) {
	n, err := Numel(shape)
	if err != nil {
		return 0, err
	}
	bits := int64(n) * int64(dt.Bits())
	if bits%8 != 0 {
		return 0, fmt.Errorf("%s %v does not fill whole bytes", dt, shape)
	}
	return bits / 8, nil
}

// NewF32 makes an F32 tensor holding a copy of vals. It returns an error if len(vals) does not
// match the shape.
func NewF32(name string, shape []int, vals []float32) (*Tensor, error) {
	return FromFloat32(name, shape, vals, F32)
}

// FromFloat32 makes a tensor of dtype dt (F32, F16 or BF16) from float32 values.
func FromFloat32(name string, shape []int, vals []float32, dt DType) (*Tensor, error) {
	n, err := Numel(shape)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	if n != len(vals) {
		return nil, fmt.Errorf("tensor %q: shape %v needs %d values, got %d", name, shape, n, len(vals))
	}
	if !dt.IsFloat() {
		return nil, fmt.Errorf("tensor %q: cannot store float32 values as %s", name, dt)
	}
	t := &Tensor{Name: name, DType: dt, Shape: append([]int(nil), shape...), Data: make([]byte, n*dt.Size())}
	if err := EncodeFloat32(t.Data, vals, dt); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	return t, nil
}

// Numel is the number of elements of t.
func (t *Tensor) Numel() int {
	n, err := Numel(t.Shape)
	if err != nil {
		return 0
	}
	return n
}

// Float32 decodes t (F32, F16 or BF16) into a new float32 slice.
func (t *Tensor) Float32() ([]float32, error) {
	n, err := Numel(t.Shape)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	out := make([]float32, n)
	if err := DecodeFloat32(out, t.Data, t.DType); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return out, nil
}

// Float64 decodes t, of any numeric dtype, into float64 values (for inspection).
func (t *Tensor) Float64() ([]float64, error) {
	v, err := DecodeFloat64(t.Data, t.DType)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return v, nil
}

// Convert returns a copy of t with its values converted to dtype dt (float types only).
func (t *Tensor) Convert(dt DType) (*Tensor, error) {
	vals, err := t.Float32()
	if err != nil {
		return nil, err
	}
	return FromFloat32(t.Name, t.Shape, vals, dt)
}

// String describes t without its data: `name BF16 [4096 4096]`.
func (t *Tensor) String() string {
	return fmt.Sprintf("%s %s %s", t.Name, t.DType, FormatShape(t.Shape))
}

// FormatShape writes a shape as [d0 d1 ...].
func FormatShape(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// FormatBytes writes a byte count with a binary unit: "512 B", "1.5 KiB", "3.2 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
