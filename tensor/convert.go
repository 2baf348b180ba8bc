package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// BF16FromFloat32 rounds f to the nearest bfloat16, ties to even. NaN stays NaN (quiet, sign
// kept); values beyond the bf16 range become ±Inf.
func BF16FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: truncate the payload but keep it a (quiet) NaN
		return uint16(b>>16) | 0x0040
	}
	// Adding 0x7fff plus the lowest kept bit rounds to nearest with ties to even; a carry out
	// of the mantissa correctly bumps the exponent (up to Inf).
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// Float32FromBF16 widens a bfloat16 to float32 exactly.
func Float32FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F16FromFloat32 rounds f to the nearest IEEE 754 half-precision value, ties to even,
// producing subnormals where needed. NaN stays NaN; values beyond the f16 range become ±Inf.
func F16FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // biased f16 exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // subnormal in f16 (or zero)
		if e < -10 {
			return sign // below half of the smallest subnormal: rounds to zero
		}
		mant |= 0x800000 // make the implicit bit explicit
		shift := uint(14 - e)
		r := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++ // may carry into the smallest normal, which is the right encoding
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // a carry into the exponent rounds up to the next binade or to Inf
	}
	return sign | uint16(r)
}

// Float32FromF16 widens a half-precision value to float32 exactly.
func Float32FromF16(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	default: // subnormal: value = mant * 2^-24, exact in float32
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
}

func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// DecodeFloat32 converts raw little-endian F32, F16 or BF16 bytes into dst, which must hold
// exactly len(src)/dtype size elements.
func DecodeFloat32(dst []float32, src []byte, dt DType) error {
	if !dt.IsFloat() {
		return fmt.Errorf("cannot decode %s as float32 (only F32, F16, BF16)", dt)
	}
	if len(src) != len(dst)*dt.Size() {
		return fmt.Errorf("decode %s: %d bytes for %d elements", dt, len(src), len(dst))
	}
	switch dt {
	case F32:
		if littleEndian() && len(dst) > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), len(src)), src)
			return nil
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	case F16:
		for i := range dst {
			dst[i] = Float32FromF16(binary.LittleEndian.Uint16(src[2*i:]))
		}
	}
	return nil
}

// EncodeFloat32 converts src into raw little-endian bytes of dtype dt (rounding to nearest
// even for F16 and BF16). dst must hold exactly len(src) * dtype size bytes.
func EncodeFloat32(dst []byte, src []float32, dt DType) error {
	if !dt.IsFloat() {
		return fmt.Errorf("cannot encode float32 as %s (only F32, F16, BF16)", dt)
	}
	if len(dst) != len(src)*dt.Size() {
		return fmt.Errorf("encode %s: %d bytes for %d elements", dt, len(dst), len(src))
	}
	switch dt {
	case F32:
		if littleEndian() && len(src) > 0 {
			copy(dst, unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), len(dst)))
			return nil
		}
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], BF16FromFloat32(v))
		}
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F16FromFloat32(v))
		}
	}
	return nil
}

// DecodeFloat64 converts raw little-endian bytes of any numeric dtype except the sub-byte and
// 8-bit float formats into float64 values, for inspection (statistics of any checkpoint).
func DecodeFloat64(src []byte, dt DType) ([]float64, error) {
	size := dt.Size()
	if size == 0 || dt == C64 || dt == F8E5M2 || dt == F8E4M3 || dt == F8E8M0 || dt == Invalid {
		return nil, fmt.Errorf("cannot decode %s as numbers", dt)
	}
	if len(src)%size != 0 {
		return nil, fmt.Errorf("decode %s: %d bytes is not a whole number of elements", dt, len(src))
	}
	n := len(src) / size
	out := make([]float64, n)
	le := binary.LittleEndian
	for i := range out {
		p := src[i*size:]
		switch dt {
		case BOOL:
			if p[0] != 0 {
				out[i] = 1
			}
		case U8:
			out[i] = float64(p[0])
		case I8:
			out[i] = float64(int8(p[0]))
		case I16:
			out[i] = float64(int16(le.Uint16(p)))
		case U16:
			out[i] = float64(le.Uint16(p))
		case F16:
			out[i] = float64(Float32FromF16(le.Uint16(p)))
		case BF16:
			out[i] = float64(Float32FromBF16(le.Uint16(p)))
		case I32:
			out[i] = float64(int32(le.Uint32(p)))
		case U32:
			out[i] = float64(le.Uint32(p))
		case F32:
			out[i] = float64(math.Float32frombits(le.Uint32(p)))
		case F64:
			out[i] = math.Float64frombits(le.Uint64(p))
		case I64:
			out[i] = float64(int64(le.Uint64(p)))
		case U64:
			out[i] = float64(le.Uint64(p))
		}
	}
	return out, nil
}
