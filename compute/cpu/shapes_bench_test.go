package cpu

import (
	"fmt"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"testing"
)

// BenchmarkStepShapes times the matrix products of one training step of the small benchmark
// config (dim 256, ffn 704, vocab 512, 2048 rows) on each backend.
func BenchmarkStepShapes(b *testing.B) {
	type mm struct {
		name    string
		tA, tB  bool
		m, n, k int
	}
	shapes := []mm{
		{"fwd qkv", false, true, 2048, 768, 256},
		{"fwd gateup", false, true, 2048, 1408, 256},
		{"fwd down", false, true, 2048, 256, 704},
		{"bwd-in gateup", false, false, 2048, 256, 1408},
		{"bwd-in down", false, false, 2048, 704, 256},
		{"bwd-w gateup", true, false, 1408, 256, 2048},
		{"bwd-w down", true, false, 256, 704, 2048},
		{"bwd-w o", true, false, 256, 256, 2048},
	}
	for _, be := range append([]Backend{NewGoBackend(0)}, openBLASOrNil()...) {
		for _, s := range shapes {
			b.Run(fmt.Sprintf("%s/%s", be.Name(), s.name), func(b *testing.B) {
				rng := seeded.New(2)
				lda, ldb := s.k, s.n
				if s.tA {
					lda = s.m
				}
				if s.tB {
					ldb = s.k
				}
				x, y, z := rng.Normals(s.m*s.k, 1), rng.Normals(s.k*s.n, 1), make([]float32, s.m*s.n)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					MatMul(be, s.tA, s.tB, s.m, s.n, s.k, 1, x, lda, y, ldb, 0, z, s.n)
				}
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
