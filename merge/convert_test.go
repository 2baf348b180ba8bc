package merge

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

// The fast conversions give exactly the tensor package's results.
func TestConversionsMatchTensor(t *testing.T) {
	// Every bf16 word decodes like tensor.DecodeFloat32.
	raw := make([]byte, 2*65536)
	for i := range 65536 {
		raw[2*i], raw[2*i+1] = byte(i), byte(i>>8)
	}
	got, want := make([]float32, 65536), make([]float32, 65536)
	if err := decodeBlock(got, raw, tensor.BF16); err != nil {
		t.Fatal(err)
	}
	if err := tensor.DecodeFloat32(want, raw, tensor.BF16); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("word %#x: %v, want %v", i, got[i], want[i])
		}
	}
	// Encoding random values, ties, specials.
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]float32, 100_000)
	for i := range v {
		v[i] = math.Float32frombits(r.Uint32())
	}
	v[0], v[1], v[2], v[3] = float32(math.Inf(1)), float32(math.NaN()), math.Float32frombits(0x3f808000), math.Float32frombits(0x3f818000)
	for _, dt := range []tensor.DType{tensor.BF16, tensor.F16, tensor.F32} {
		a := append([]float32(nil), v...)
		gotB := make([]byte, len(v)*dt.Size())
		wantB := make([]byte, len(v)*dt.Size())
		encodeRounded(gotB, a, dt)
		if err := tensor.EncodeFloat32(wantB, v, dt); err != nil {
			t.Fatal(err)
		}
		if string(gotB) != string(wantB) {
			t.Fatalf("%s: encoding differs", dt)
		}
		back := make([]float32, len(v))
		tensor.DecodeFloat32(back, wantB, dt)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(back[i]) && !(a[i] != a[i] && back[i] != back[i]) {
				t.Fatalf("%s element %d: rounded in place to %v, stored %v", dt, i, a[i], back[i])
			}
		}
	}
}

// encodeExact stores values that came from bf16 words back as the same words.
func TestEncodeExactRoundTrips(t *testing.T) {
	raw := make([]byte, 2*65536)
	for i := range 65536 {
		raw[2*i], raw[2*i+1] = byte(i), byte(i>>8)
	}
	v := make([]float32, 65536)
	if err := decodeBlock(v, raw, tensor.BF16); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, len(raw))
	encodeExact(back, v, tensor.BF16)
	if string(back) != string(raw) {
		t.Fatal("bf16 words changed")
	}
}
