package merge

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/ordermerge/ordermerge/tensor"
)

// The conversions between stored dtypes and float32 run for every element of every input and
// of the output, so they have loops of their own here: on little-endian machines the 16-bit
// words are read and written through a []uint16 view (no per-element byte assembly or bounds
// checks). They produce exactly what tensor.DecodeFloat32 / tensor.EncodeFloat32 produce.

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// words views b (of even length, 2-byte aligned) as 16-bit words.
func words(b []byte) []uint16 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}

func aligned2(b []byte) bool { return len(b) == 0 || uintptr(unsafe.Pointer(&b[0]))%2 == 0 }

// float32View views b as the float32 values it holds when dt is F32 and the machine is
// little-endian (as safetensors stores them) and b is 4-byte aligned; ok is false otherwise.
func float32View(b []byte, dt tensor.DType) (v []float32, ok bool) {
	if dt != tensor.F32 || !littleEndian || len(b)%4 != 0 {
		return nil, false
	}
	if len(b) == 0 {
		return []float32{}, true
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4), true
}

// decodeBlock converts len(dst) elements of dtype dt from src.
func decodeBlock(dst []float32, src []byte, dt tensor.DType) error {
	if dt == tensor.BF16 && littleEndian && aligned2(src) && len(src) == 2*len(dst) {
		w := words(src)
		for i, h := range w {
			dst[i] = math.Float32frombits(uint32(h) << 16)
		}
		return nil
	}
	return tensor.DecodeFloat32(dst, src, dt)
}

// encodeExact writes v as dtype dt when every value is known to be representable in dt (a
// selecting method copying elements of inputs stored in dt): BF16 then needs no rounding.
func encodeExact(dst []byte, v []float32, dt tensor.DType) {
	if dt == tensor.BF16 && littleEndian && aligned2(dst) {
		w := words(dst)[:len(v)]
		for i, x := range v {
			w[i] = uint16(math.Float32bits(x) >> 16)
		}
		return
	}
	encodeRounded(dst, v, dt)
}

// encodeRounded writes v as dtype dt into dst and replaces each value by its rounded, stored
// value, so the report describes the tensor as written.
func encodeRounded(dst []byte, v []float32, dt tensor.DType) {
	switch dt {
	case tensor.BF16:
		if littleEndian && aligned2(dst) {
			w := words(dst)[:len(v)]
			for i, x := range v {
				h := tensor.BF16FromFloat32(x)
				v[i] = math.Float32frombits(uint32(h) << 16)
				w[i] = h
			}
			return
		}
		for i, x := range v {
			h := tensor.BF16FromFloat32(x)
			v[i] = math.Float32frombits(uint32(h) << 16)
			binary.LittleEndian.PutUint16(dst[2*i:], h)
		}
	case tensor.F16:
		for i, x := range v {
			h := tensor.F16FromFloat32(x)
			v[i] = tensor.Float32FromF16(h)
			binary.LittleEndian.PutUint16(dst[2*i:], h)
		}
	default:
		_ = tensor.EncodeFloat32(dst, v, tensor.F32) // sizes match by construction
	}
}
