package merge

import (
	"hash/fnv"
	"testing"
)

// The stream is SplitMix64: from state 0, its first outputs are the published test vector.
func TestStreamIsSplitMix64(t *testing.T) {
	s := stream{key: 0}
	for j, want := range []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f, 0xf88bb8a8724c81ec} {
		if got := s.Uint64(j); got != want {
			t.Errorf("output %d: %#x, want %#x", j, got, want)
		}
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
		if a.Uint64(0) == b.Uint64(0) {
			t.Errorf("streams %v and %v collide", a, b)
		}
	}
}

func TestPicker(t *testing.T) {
	p := newPicker([]float64{1, 0, 3, 0})
	// u53 below 2^53/4 picks 0; everything else picks 2 (zero weights are never picked).
	for _, tc := range []struct {
		u    uint64
		want int
	}{{0, 0}, {1<<51 - 1, 0}, {1 << 51, 2}, {1<<53 - 1, 2}} {
		if got := p.pick(tc.u); got != tc.want {
			t.Errorf("pick(%d) = %d, want %d", tc.u, got, tc.want)
		}
	}
	if probThreshold(0.5) != 1<<52 || probThreshold(1) != 1<<53 || probThreshold(0) != 0 {
		t.Error("probThreshold")
	}
}
