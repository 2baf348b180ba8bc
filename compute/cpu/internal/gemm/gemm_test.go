package gemm

import (
	"math"
	"testing"
)

// TestKernelsAgree checks the assembly tile kernel (where the CPU has it) against the portable
// one on shapes with partial tiles and several k blocks.
func TestKernelsAgree(t *testing.T) {
	seed := uint32(1)
	rnd := func() float32 {
		seed = seed*1664525 + 1013904223
		return float32(int32(seed>>8)%2000) / 1000
	}
	for _, s := range [][3]int{{6, 16, 1}, {7, 17, 300}, {97, 33, 513}, {1, 200, 5}} {
		m, n, k := s[0], s[1], s[2]
		a, b := make([]float32, m*k), make([]float32, k*n)
		for i := range a {
			a[i] = rnd()
		}
		for i := range b {
			b[i] = rnd()
		}
		c1, c2 := make([]float32, m*n), make([]float32, m*n)
		Gemm(&Workspace{}, false, false, m, n, k, 1, a, k, b, n, 0, c1, n)
		GemmPortable(false, false, m, n, k, 1, a, k, b, n, 0, c2, n)
		for i := range c1 {
			if d := math.Abs(float64(c1[i] - c2[i])); d > 1e-4*math.Sqrt(float64(k)) {
				t.Fatalf("%dx%dx%d: element %d: %v vs %v", m, n, k, i, c1[i], c2[i])
			}
		}
	}
}

func TestCheckPanicsOnShortSlices(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a too-short C must be caught before it is written")
		}
	}()
	Gemm(nil, false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
}
