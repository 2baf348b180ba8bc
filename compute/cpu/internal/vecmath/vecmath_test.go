package vecmath

import (
	"math"
	"testing"
)

func inputs(n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*float64(i)/float64(n-1))
	}
	return x
}

func TestExpShift(t *testing.T) {
	for _, n := range []int{1, 7, 8, 9, 64, 1003} {
		src := inputs(n, -90, 30)
		dst := make([]float32, n)
		sum := ExpShift(dst, src, -5)
		var want float64
		for i, x := range src {
			e := math.Exp(float64(x + 5)) // the argument is rounded to float32 first
			want += e
			if e > 1e-37 && math.Abs(float64(dst[i])-e)/e > 4e-7 {
				t.Fatalf("n=%d: exp(%v+5) = %v, want %v", n, x, dst[i], e)
			}
			if e <= 1e-37 && dst[i] > 2e-38 {
				t.Fatalf("n=%d: exp(%v+5) = %v, want about 0", n, x, dst[i])
			}
		}
		if math.Abs(float64(sum)-want)/want > 1e-6 {
			t.Fatalf("n=%d: sum %v, want %v", n, sum, want)
		}
		if useAsm && n >= 8 {
			// The portable body sums in the same order: same bits.
			d2 := make([]float32, n&^7)
			if s2 := expShiftGo(d2, src[:n&^7], -5); s2 != ExpShift(dst[:n&^7], src[:n&^7], -5) {
				t.Fatalf("n=%d: portable sum %v differs from the assembly's", n, s2)
			}
		}
	}
	nan := []float32{1, 2, 3, 4, float32(math.NaN()), 6, 7, 8}
	if s := ExpShift(make([]float32, 8), nan, 0); !math.IsNaN(float64(s)) {
		t.Fatal("NaN must propagate through exp")
	}
}

func TestSwiGLU(t *testing.T) {
	for _, n := range []int{3, 8, 21, 704} {
		g, u, dh := inputs(n, -12, 9), inputs(n, 2, -3), inputs(n, -1, 1.5)
		h, h2, dg, du := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		SwiGLU(h, g, u)
		SwiGLUGrad(dg, du, h2, g, u, dh)
		for i := range g {
			x, y, d := float64(g[i]), float64(u[i]), float64(dh[i])
			s := 1 / (1 + math.Exp(-x))
			want := []float64{x * s * y, x * s * y, d * x * s, d * y * s * (1 + x*(1-s))}
			for k, got := range []float32{h[i], h2[i], du[i], dg[i]} {
				if math.Abs(float64(got)-want[k]) > 2e-6*(1+math.Abs(want[k])) {
					t.Fatalf("n=%d i=%d output %d: %v, want %v", n, i, k, got, want[k])
				}
			}
		}
	}
}

func BenchmarkExpShift(b *testing.B) {
	src, dst := inputs(4096, -20, 0), make([]float32, 4096)
	for i := 0; i < b.N; i++ {
		ExpShift(dst, src, 0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*4096), "ns/value")
}
