// Package gradcheck compares hand-written gradients with central finite differences. It is
// shared by the tests of compute/cpu and model/llama (any package of the module may use it).
package gradcheck

import (
	"math"
	"testing"
)

// Check compares the analytic gradient got of f with respect to x against central
// differences with step eps, on up to samples elements spread over x. f must recompute from x
// every call. An element fails when |numeric - analytic| > tol * max(|numeric| + |analytic|,
// floor). It returns the worst relative difference seen.
func Check(t testing.TB, name string, x, got []float32, f func() float64, eps float32, samples int, tol, floor float64) float64 {
	t.Helper()
	step := max(1, len(x)/samples)
	worst := 0.0
	for i := 0; i < len(x); i += step {
		old := x[i]
		x[i] = old + eps
		fp := f()
		x[i] = old - eps
		fm := f()
		x[i] = old
		num := (fp - fm) / (2 * float64(eps))
		diff := math.Abs(num - float64(got[i]))
		rel := diff / math.Max(math.Abs(num)+math.Abs(float64(got[i])), floor)
		worst = math.Max(worst, rel)
		if rel > tol || math.IsNaN(rel) {
			t.Errorf("%s: d/dx[%d] = %.6g, finite differences give %.6g", name, i, got[i], num)
			return worst
		}
	}
	return worst
}
