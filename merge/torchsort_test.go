package merge

import (
	"math/rand/v2"
	"testing"
)

// torchOrderIn must put every position of its range exactly where the whole sort puts it, for
// inputs full of ties (few distinct values), in both directions, for ranges anywhere.
func TestTorchOrderInMatchesWholeSort(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 2, 15, 16, 17, 100, 1000, 50_000} {
		for _, distinct := range []int{1, 3, 50, 1 << 20} {
			vals := make([]float32, n)
			for i := range vals {
				vals[i] = float32(r.IntN(distinct))
			}
			for _, desc := range []bool{true, false} {
				whole := torchOrder(vals, desc)
				for range 5 {
					lo := r.IntN(n + 1)
					hi := lo + r.IntN(n-lo+1)
					got := torchOrderIn(vals, desc, lo, hi)
					for p := lo; p < hi; p++ {
						if got[p] != whole[p] {
							t.Fatalf("n=%d distinct=%d desc=%v [%d, %d): position %d holds %d, the whole sort %d", n, distinct, desc, lo, hi, p, got[p], whole[p])
						}
					}
				}
			}
		}
	}
}
