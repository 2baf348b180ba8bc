package merge

import (
	"hash/fnv"
	"testing"
)

// The stream is SplitMix64: from state 0, its first outputs are the published test vector.
func TestStreamIsSplitMix64(t *testing.T) {
	s := stream{key: 0}
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f, 0xf88bb8a8724c81ec}
	for c, w := range want {
		if got := s.word(c); got != w {
			t.Errorf("output %d: %#x, want %#x", c, got, w)
		}
	}
	// Draws are the words' halves, high first; fill gives the same from any even offset.
	buf := make([]uint32, 7)
	s.fill(buf, 0)
	for j := range buf {
		h := want[j/2] >> 32
		if j%2 == 1 {
			h = want[j/2] & 0xffffffff
		}
		if s.u(j) != h || uint64(buf[j]) != h {
			t.Errorf("draw %d: u %#x, fill %#x, want %#x", j, s.u(j), buf[j], h)
		}
	}
	s.fill(buf[:3], 4)
	if uint64(buf[0]) != s.u(4) || uint64(buf[2]) != s.u(6) {
		t.Error("fill from offset 4")
	}
}

func TestNameHashIsFNV1a(t *testing.T) {
	for _, name := range []string{"", "w", "model.layers.0.mlp.up_proj.weight", "ünïcode"} {
		h := fnv.New64a()
		h.Write([]byte(name))
		if got := fnv1a64(name); got != h.Sum64() {
			t.Errorf("%q: %#x, want %#x", name, got, h.Sum64())
		}
	}
}

func TestStreamsDiffer(t *testing.T) {
	a := newStream(1, "w", 0)
	for _, b := range []stream{newStream(2, "w", 0), newStream(1, "v", 0), newStream(1, "w", 1)} {
		if a.word(0) == b.word(0) {
			t.Errorf("streams %v and %v collide", a, b)
		}
	}
}

func TestPicker(t *testing.T) {
	p := newPicker([]float64{1, 0, 3, 0})
	// u below 2^32/4 picks 0; everything else picks 2 (zero weights are never picked).
	for _, tc := range []struct {
		u    uint64
		want int
	}{{0, 0}, {1<<30 - 1, 0}, {1 << 30, 2}, {1<<32 - 1, 2}} {
		if got := p.pick(tc.u); got != tc.want {
			t.Errorf("pick(%d) = %d, want %d", tc.u, got, tc.want)
		}
	}
	if probThreshold(0.5) != 1<<31 || probThreshold(1) != 1<<32 || probThreshold(0) != 0 || probThreshold(0.3) != 1288490189 {
		t.Error("probThreshold")
	}
}
