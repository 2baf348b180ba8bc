package merge

import "github.com/ordermerge/ordermerge/merge/internal/vec"

// mergeSum is Merge for the methods without a sign election whose pruning is element by
// element (task_arithmetic, dare_linear): the same float64 terms added in the same order as
// Merge's general loop, by vec's loops, so the bytes are the same.
func (k *gtaKernel) mergeSum(b *Block, sumW float64) {
	if k.acc == nil {
		k.acc = make([]float64, gtaSub)
	}
	div := 1.0
	if k.normalize {
		div = sumW
	}
	n := len(b.Out)
	for s0 := 0; s0 < n; s0 += gtaSub {
		m := min(gtaSub, n-s0)
		acc := k.acc[:m]
		clear(acc) // +0, as Merge's sums start
		base := b.Base[s0 : s0+m]
		for i, x := range b.Models {
			scale := 1.0
			if k.scale != nil {
				scale = k.scale[i]
			}
			if k.o.sparsify == sparsifyRandom {
				vec.AddTaskKept(acc, x[s0:s0+m], base, k.us[i][s0:s0+m], k.keepThr[i], k.w[i], scale)
			} else {
				vec.AddTask(acc, x[s0:s0+m], base, k.w[i], scale)
			}
		}
		vec.AddBase(b.Out[s0:s0+m], base, acc, div, k.lambda)
	}
}
