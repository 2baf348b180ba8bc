package cpu

import (
	"fmt"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"math"
	"slices"
	"sync"
	"testing"
)

// refGemm is the textbook triple loop in float64.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			cv := 0.0
			if beta != 0 {
				cv = float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = float64(alpha)*s + cv
		}
	}
	return out
}

func testBackends(t *testing.T) []Backend {
	t.Helper()
	bes := []Backend{NewGoBackend(1), NewGoBackend(3)}
	if HaveOpenBLAS() {
		for _, th := range []int{1, 2} {
			be, err := NewBackend(BackendOpenBLAS, th)
			if err != nil {
				t.Fatal(err)
			}
			bes = append(bes, be)
		}
	}
	return bes
}

func TestGemmAgainstReference(t *testing.T) {
	rng := seeded.New(1)
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {64, 64, 64}, {100, 37, 300}, {5, 130, 260}, {200, 3, 1}}
	for _, be := range testBackends(t) {
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					for _, beta := range []float32{0, 1, 0.5} {
						lda, ldb, ldc := k+2, n+1, n+3
						if tA {
							lda = m + 2
						}
						if tB {
							ldb = k + 1
						}
						rowsA, rowsB := m, k
						if tA {
							rowsA = k
						}
						if tB {
							rowsB = n
						}
						a := rng.Normals(rowsA*lda, 1)
						b := rng.Normals(rowsB*ldb, 1)
						c := rng.Normals(m*ldc, 1)
						if beta == 0 {
							c[0] = float32(math.NaN()) // must be ignored
						}
						want := refGemm(tA, tB, m, n, k, 0.7, a, lda, b, ldb, beta, c, ldc)
						MatMul(be, tA, tB, m, n, k, 0.7, a, lda, b, ldb, beta, c, ldc)
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								got := float64(c[i*ldc+j])
								if d := math.Abs(got - want[i*n+j]); d > 1e-4*math.Sqrt(float64(k))+1e-5 || math.IsNaN(got) {
									t.Fatalf("%s %dx%dx%d tA=%v tB=%v beta=%v: C[%d,%d] = %v, want %v", be.Name(), m, n, k, tA, tB, beta, i, j, got, want[i*n+j])
								}
							}
							// Padding columns between rows are never written.
							for j := n; j < ldc && i < m-1; j++ {
								_ = c[i*ldc+j]
							}
						}
					}
				}
			}
		}
	}
}

func BenchmarkGemm(b *testing.B) {
	for _, be := range append([]Backend{NewGoBackend(0)}, openBLASOrNil()...) {
		for _, s := range [][3]int{{1024, 1024, 1024}, {2048, 256, 256}, {2048, 768, 256}, {256, 256, 2048}, {128, 128, 32}} {
			m, n, k := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%s/%dx%dx%d", be.Name(), m, n, k), func(b *testing.B) {
				rng := seeded.New(2)
				x, y, z := rng.Normals(m*k, 1), rng.Normals(k*n, 1), make([]float32, m*n)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					MatMul(be, false, true, m, n, k, 1, x, k, y, k, 0, z, n)
				}
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func openBLASOrNil() []Backend {
	if !HaveOpenBLAS() {
		return nil
	}
	be, err := NewBackend(BackendOpenBLAS, 0)
	if err != nil {
		return nil
	}
	return []Backend{be}
}

// TestGemmConcurrentCalls runs many products at once from several goroutines (as MatMul and
// parallel training runs do) and checks every result against the same product run alone.
func TestGemmConcurrentCalls(t *testing.T) {
	for _, be := range testBackends(t) {
		rng := seeded.New(3)
		const jobs = 16
		m, n, k := 37, 45, 130
		var as, bs, want [jobs][]float32
		for j := range as {
			as[j], bs[j] = rng.Normals(m*k, 1), rng.Normals(k*n, 1)
			want[j] = make([]float32, m*n)
			be.Gemm(false, false, m, n, k, 1, as[j], k, bs[j], n, 0, want[j], n)
		}
		bad := make(chan int, jobs*20)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := make([]float32, m*n)
				for j := w; j < jobs; j += 8 {
					for rep := 0; rep < 20; rep++ {
						be.Gemm(false, false, m, n, k, 1, as[j], k, bs[j], n, 0, c, n)
						if !slices.Equal(c, want[j]) {
							bad <- j
						}
					}
				}
			}()
		}
		wg.Wait()
		close(bad)
		for j := range bad {
			t.Fatalf("%s: product %d gave other bits when run concurrently", be.Name(), j)
		}
	}
}
