package tensor

import (
	"fmt"
	"strings"
)

// DType is a tensor element type, named as in the safetensors format.
type DType uint8

// The safetensors element types. F32, F16 and BF16 are the compute types; the others can be
// read and inspected.
const (
	Invalid DType = iota
	BOOL
	U8
	I8
	I16
	U16
	F16
	BF16
	I32
	U32
	F32
	F64
	I64
	U64
	C64
	F8E5M2
	F8E4M3
	F8E8M0
	F6E2M3
	F6E3M2
	F4
)

type dtypeInfo struct {
	name string
	bits int
}

// dtypeTable is indexed by DType; it is never written after initialisation.
var dtypeTable = [...]dtypeInfo{
	Invalid: {"INVALID", 0},
	BOOL:    {"BOOL", 8},
	U8:      {"U8", 8},
	I8:      {"I8", 8},
	I16:     {"I16", 16},
	U16:     {"U16", 16},
	F16:     {"F16", 16},
	BF16:    {"BF16", 16},
	I32:     {"I32", 32},
	U32:     {"U32", 32},
	F32:     {"F32", 32},
	F64:     {"F64", 64},
	I64:     {"I64", 64},
	U64:     {"U64", 64},
	C64:     {"C64", 64},
	F8E5M2:  {"F8_E5M2", 8},
	F8E4M3:  {"F8_E4M3", 8},
	F8E8M0:  {"F8_E8M0", 8},
	F6E2M3:  {"F6_E2M3", 6},
	F6E3M2:  {"F6_E3M2", 6},
	F4:      {"F4", 4},
}

// String returns the safetensors name of d ("F32", "BF16", ...).
func (d DType) String() string {
	if int(d) < len(dtypeTable) {
		return dtypeTable[d].name
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Bits is the size of one element in bits (sub-byte types exist: F4, F6).
func (d DType) Bits() int {
	if int(d) < len(dtypeTable) {
		return dtypeTable[d].bits
	}
	return 0
}

// Size is the size of one element in bytes, or 0 for sub-byte types.
func (d DType) Size() int { return d.Bits() / 8 }

// IsFloat reports whether d is one of the float types that merging and training compute with.
func (d DType) IsFloat() bool { return d == F32 || d == F16 || d == BF16 }

// ParseDType parses a dtype name. It accepts the safetensors names ("F32", "BF16") and the
// common spellings of the float types ("float32", "bfloat16", "fp16", "half"), case-insensitively.
func ParseDType(s string) (DType, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	for d := BOOL; int(d) < len(dtypeTable); d++ {
		if dtypeTable[d].name == u {
			return d, nil
		}
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "float32", "fp32", "float", "torch.float32":
		return F32, nil
	case "float16", "fp16", "half", "torch.float16":
		return F16, nil
	case "bfloat16", "bf16", "torch.bfloat16":
		return BF16, nil
	case "float64", "fp64", "double":
		return F64, nil
	}
	return Invalid, fmt.Errorf("unknown dtype %q", s)
}

// TorchName is the name transformers uses for d in config.json's torch_dtype ("bfloat16").
func (d DType) TorchName() string {
	switch d {
	case F32:
		return "float32"
	case F16:
		return "float16"
	case BF16:
		return "bfloat16"
	case F64:
		return "float64"
	}
	return strings.ToLower(d.String())
}
