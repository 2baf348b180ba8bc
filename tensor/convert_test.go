package tensor

import (
	"math"
	"testing"
)

// Reference conversions computed with PyTorch 1.13 (tensor.to(torch.float16/bfloat16)), which
// rounds to nearest even: f32 bits, f16 bits, bf16 bits.
var conversionCases = []struct{ f32, f16, bf16 uint32 }{
	{0x00000000, 0x0000, 0x0000}, // 0
	{0x80000000, 0x8000, 0x8000}, // -0
	{0x3f800000, 0x3c00, 0x3f80}, // 1
	{0xc0200000, 0xc100, 0xc020}, // -2.5
	{0x477fe000, 0x7bff, 0x4780}, // 65504, the largest f16
	{0x477ff000, 0x7c00, 0x4780}, // 65520 rounds (tie, odd) to f16 Inf
	{0x477feffd, 0x7bff, 0x4780}, // just below the f16 overflow threshold
	{0x322bcc77, 0x0000, 0x322c}, // 1e-8: below half the smallest f16 subnormal
	{0x33800000, 0x0001, 0x3380}, // 2^-24, the smallest f16 subnormal
	{0x33000000, 0x0000, 0x3300}, // 2^-25: tie between 0 and the smallest subnormal -> 0 (even)
	{0x33000001, 0x0001, 0x3300}, // just above that tie -> smallest subnormal
	{0x387fc000, 0x03ff, 0x3880}, // the largest f16 subnormal
	{0x38800000, 0x0400, 0x3880}, // the smallest f16 normal
	{0x7f7fffff, 0x7c00, 0x7f80}, // the largest f32 -> Inf in both
	{0x3f802000, 0x3c01, 0x3f80}, // 1 + 2^-10
	{0x3f801000, 0x3c00, 0x3f80}, // f16 tie, even below
	{0x3f803000, 0x3c02, 0x3f80}, // f16 tie, odd below -> rounds up
	{0x3f810000, 0x3c08, 0x3f81}, // exact in bf16
	{0x3f808000, 0x3c04, 0x3f80}, // bf16 tie, even below
	{0x3f818000, 0x3c0c, 0x3f82}, // bf16 tie, odd below -> rounds up
	{0x000116c2, 0x0000, 0x0001}, // f32 subnormal 1e-40 -> bf16 subnormal
	{0x80000001, 0x8000, 0x8000}, // the smallest negative f32 subnormal -> -0
	{0x7f800000, 0x7c00, 0x7f80}, // +Inf
	{0xff800000, 0xfc00, 0xff80}, // -Inf
	{0x7f61b1e6, 0x7c00, 0x7f62}, // 3e38
	{0x7f7f8000, 0x7c00, 0x7f80}, // bf16 tie at the top of the range rounds to Inf
}

func TestConversionReference(t *testing.T) {
	for _, c := range conversionCases {
		f := math.Float32frombits(c.f32)
		if got := F16FromFloat32(f); uint32(got) != c.f16 {
			t.Errorf("F16(%g = %#08x) = %#04x, want %#04x", f, c.f32, got, c.f16)
		}
		if got := BF16FromFloat32(f); uint32(got) != c.bf16 {
			t.Errorf("BF16(%g = %#08x) = %#04x, want %#04x", f, c.f32, got, c.bf16)
		}
	}
}

func TestNaNPreserved(t *testing.T) {
	for _, bits := range []uint32{0x7fc00000, 0xffc00000, 0x7f800001, 0x7fffffff, 0xff800001} {
		f := math.Float32frombits(bits)
		if v := Float32FromF16(F16FromFloat32(f)); !math.IsNaN(float64(v)) {
			t.Errorf("f16 lost NaN %#08x: %g", bits, v)
		}
		if v := Float32FromBF16(BF16FromFloat32(f)); !math.IsNaN(float64(v)) {
			t.Errorf("bf16 lost NaN %#08x: %g", bits, v)
		}
		if sign := BF16FromFloat32(f) >> 15; uint32(sign) != bits>>31 {
			t.Errorf("bf16 NaN %#08x lost its sign", bits)
		}
	}
}

// Every f16 and bf16 value widens to float32 and narrows back to itself (NaNs stay NaN).
func TestHalfRoundTripExhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := Float32FromF16(h)
		if math.IsNaN(float64(f)) {
			if h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
				t.Fatalf("f16 %#04x decoded to NaN", h)
			}
			continue
		}
		if back := F16FromFloat32(f); back != h {
			t.Fatalf("f16 %#04x -> %g -> %#04x", h, f, back)
		}
		b := Float32FromBF16(h)
		if math.IsNaN(float64(b)) {
			continue
		}
		if back := BF16FromFloat32(b); back != h {
			t.Fatalf("bf16 %#04x -> %g -> %#04x", h, b, back)
		}
	}
}

// F16 rounding agrees with float64 arithmetic on the nearest representable neighbours for many
// values across the whole range, subnormals included.
func TestF16NearestEven(t *testing.T) {
	x := uint32(12345)
	for i := 0; i < 200000; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		f := math.Float32frombits(x&0x8fffffff | 0x30000000) // magnitudes ~1e-9 .. 1e5
		h := F16FromFloat32(f)
		got := float64(Float32FromF16(h))
		// Neighbours of h must not be strictly closer.
		for _, n := range []uint16{h - 1, h + 1} {
			if n&0x7c00 == 0x7c00 {
				continue
			}
			nv := float64(Float32FromF16(n))
			if math.Signbit(nv) != math.Signbit(got) && got != 0 {
				continue
			}
			if math.Abs(nv-float64(f)) < math.Abs(got-float64(f)) {
				t.Fatalf("f16(%g) = %g but %g is closer", f, got, nv)
			}
		}
	}
}

func TestDecodeEncodeRoundTrip(t *testing.T) {
	vals := []float32{0, 1, -1, 0.5, 3.140625, -1024, float32(math.Inf(1))}
	for _, dt := range []DType{F32, F16, BF16} {
		buf := make([]byte, len(vals)*dt.Size())
		if err := EncodeFloat32(buf, vals, dt); err != nil {
			t.Fatal(err)
		}
		out := make([]float32, len(vals))
		if err := DecodeFloat32(out, buf, dt); err != nil {
			t.Fatal(err)
		}
		for i := range vals {
			if out[i] != vals[i] {
				t.Errorf("%s: %g -> %g", dt, vals[i], out[i])
			}
		}
	}
	if err := DecodeFloat32(make([]float32, 2), make([]byte, 3), F16); err == nil {
		t.Error("size mismatch accepted")
	}
	if err := DecodeFloat32(make([]float32, 1), make([]byte, 8), I64); err == nil {
		t.Error("I64 decoded as float32")
	}
}

func TestDecodeFloat64AllDTypes(t *testing.T) {
	cases := []struct {
		dt   DType
		data []byte
		want []float64
	}{
		{BOOL, []byte{0, 1, 2}, []float64{0, 1, 1}},
		{U8, []byte{0, 255}, []float64{0, 255}},
		{I8, []byte{0x80, 0x7f}, []float64{-128, 127}},
		{I16, []byte{0xff, 0xff, 0x00, 0x80}, []float64{-1, -32768}},
		{I32, []byte{0xfe, 0xff, 0xff, 0xff}, []float64{-2}},
		{I64, []byte{0x05, 0, 0, 0, 0, 0, 0, 0}, []float64{5}},
		{F64, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, []float64{1}},
		{F16, []byte{0x00, 0x3c}, []float64{1}},
		{BF16, []byte{0x80, 0x3f}, []float64{1}},
	}
	for _, c := range cases {
		got, err := DecodeFloat64(c.data, c.dt)
		if err != nil {
			t.Fatalf("%s: %v", c.dt, err)
		}
		for i := range c.want {
			if got[i] != c.want[i] {
				t.Errorf("%s[%d] = %g, want %g", c.dt, i, got[i], c.want[i])
			}
		}
	}
}

func TestParseDType(t *testing.T) {
	for in, want := range map[string]DType{"F32": F32, "bf16": BF16, "bfloat16": BF16, "float16": F16, "F8_E4M3": F8E4M3, "I64": I64} {
		got, err := ParseDType(in)
		if err != nil || got != want {
			t.Errorf("ParseDType(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseDType("float8"); err == nil {
		t.Error("accepted float8")
	}
}
