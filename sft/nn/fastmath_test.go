package nn

import (
	"math"
	"testing"
)

func TestExp32(t *testing.T) {
	worst := 0.0
	for x := -103.0; x < 88.7; x += 0.00731 {
		got := float64(Exp32(float32(x)))
		want := math.Exp(float64(float32(x)))
		if want < 1e-37 { // subnormal range: absolute error matters
			if math.Abs(got-want) > 1e-44 {
				t.Fatalf("Exp32(%v) = %v, want %v", x, got, want)
			}
			continue
		}
		rel := math.Abs(got-want) / want
		worst = max(worst, rel)
		if rel > 4e-7 {
			t.Fatalf("Exp32(%v) = %v, want %v (rel err %.3g)", x, got, want, rel)
		}
	}
	t.Logf("worst relative error %.3g", worst)
	if Exp32(0) != 1 || Exp32(-200) != 0 || !math.IsInf(float64(Exp32(100)), 1) || !math.IsNaN(float64(Exp32(float32(math.NaN())))) {
		t.Fatal("special values wrong")
	}
}

func BenchmarkExp32(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%200)/10 - 10
	}
	var s float32
	for i := 0; i < b.N; i++ {
		for _, v := range x {
			s += Exp32(v)
		}
	}
	_ = s
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/exp")
}

func BenchmarkMathExp(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%200)/10 - 10
	}
	var s float32
	for i := 0; i < b.N; i++ {
		for _, v := range x {
			s += float32(math.Exp(float64(v)))
		}
	}
	_ = s
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/exp")
}
