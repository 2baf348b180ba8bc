package merge

import (
	"math"
	"math/bits"

	"github.com/ordermerge/ordermerge/merge/internal/vec"
)

// sce is mergekit's SCE (Select, Calculate, Erase; Wan et al. 2024): keep the select_topk
// fraction of elements whose task vectors vary most across the models (of those that vary at
// all), weight each model by the mean square of its kept task vector (normalised to sum 1),
// drop the elements against the elected sign (that of the sum of the task vectors), and add
// the weighted mean of the rest to the base.
type sce struct{}

func (sce) Info() MethodInfo {
	return MethodInfo{
		Name:      "sce",
		Summary:   "SCE: top-k by variance across models, mean-square weights, sign election",
		NeedsBase: true,
		MinModels: 1,
		Passes:    "3 with select_topk < 1 (exact top-k of the variances, then the weights), else 1",
		Params: []ParamSpec{
			{Name: "select_topk", Kind: FloatParam, Default: 1, Doc: "fraction of the varying elements kept, largest variance first"},
			int8MaskParam,
		},
	}
}

func (sce) NewKernel(ti TensorInfo, p *TensorParams) (Kernel, error) {
	if !ti.HasBase {
		return nil, p.errorf("select_topk", "sce needs a base model")
	}
	k := &sceKernel{k: len(ti.Models), topk: p.Float("select_topk"), sq: make([]float64, len(ti.Models)), n: ti.Numel, arena: ti.arena}
	k.selecting = k.topk < 1
	k.sel.arena = ti.arena
	return k, nil
}

// stateBytes is the top-k search's two count tables and the two marks per element.
func (k *sceKernel) stateBytes() int64 {
	if !k.selecting {
		return 0
	}
	return (4<<15+1<<16)*8 + 2*int64((k.n+63)/64)*8
}

type sceKernel struct {
	k         int
	n         int
	topk      float64
	selecting bool
	nonzero   int64
	sel       topK
	// By element, from the second pass: kept (above the cut's high bucket in that pass, final
	// after the weights' pass), and in the cut's high bucket (whose variances the weights'
	// pass computes again, one by one, to place them against the cut). The last two passes
	// then need no variances.
	keep, inBucket []uint64
	arena          *arena
	sq             []float64 // sum of squares of the kept task vectors, per model
	w              []float64
	keys           []uint32
	mean           []float64 // varKeys' scratch: one run's means and variances
	vari           []float64
	// Merge's scratch for one run: the top-k mask, the task vectors' sums, the agreeing
	// terms and their weights
	kept            []uint32
	sum, mixed, div []float64
}

func (k *sceKernel) ScanPasses() int {
	if k.selecting {
		return 3
	}
	return 1
}

// varKeys fills k.keys with the float32 bits of the population variance of the task vectors
// at each element of the block, and returns them. It runs a loop per model over runs of
// gtaSub elements, summing in model order from +0 as a loop per element would.
func (k *sceKernel) varKeys(b *Block) []uint32 {
	n := len(b.Base)
	if cap(k.keys) < n {
		k.keys = make([]uint32, blockElems)
	}
	if k.mean == nil {
		k.mean, k.vari = make([]float64, gtaSub), make([]float64, gtaSub)
	}
	keys := k.keys[:n]
	kf := float64(k.k)
	for s0 := 0; s0 < n; s0 += gtaSub {
		m := min(gtaSub, n-s0)
		mean, v := k.mean[:m], k.vari[:m]
		base := b.Base[s0 : s0+m]
		clear(mean)
		for _, x := range b.Models {
			vec.AddTask(mean, x[s0:s0+m], base, 1, 1)
		}
		vec.Quotients(mean, kf)
		clear(v)
		for _, x := range b.Models {
			vec.AddSqDev(v, x[s0:s0+m], base, mean)
		}
		vec.Quotients(v, kf)
		for j, x := range v {
			keys[s0+j] = math.Float32bits(float32(x))
		}
	}
	return keys
}

func (k *sceKernel) Scan(pass int, b *Block) {
	if k.selecting && pass < 2 {
		keys := k.varKeys(b)
		if pass == 0 {
			h := k.sel.hiCounts()
			for j, key := range keys {
				k.nonzero += b2i(key != 0)
				h[key>>16<<2|uint32(j&3)]++
			}
			return
		}
		if k.sel.none {
			return
		}
		if k.sel.lo == nil {
			k.sel.lo = take[int64](k.arena, "topk.counts", 0, 1<<16)
		}
		zeros := vec.BucketCounts((*[1 << 16]int64)(k.sel.lo), keys, k.sel.hiBucket)
		if k.sel.hiBucket == 0 {
			k.sel.lo[0] += zeros
		}
		k.markBuckets(b.Offset, keys)
		return
	}
	// The weights' pass: mean squares of the kept task vectors.
	if k.kept == nil {
		k.kept = make([]uint32, gtaSub)
	}
	// A run's top-k masks, then each model's squares in element order; a dropped element
	// adds +0, which changes no sum of squares.
	n := len(b.Base)
	for s0 := 0; s0 < n; s0 += gtaSub {
		m := min(gtaSub, n-s0)
		kept := k.kept[:m]
		if k.selecting {
			k.settle(b, s0, m)
			k.keptMask(kept, b.Offset+s0)
		} else {
			for j := range kept {
				kept[j] = ^uint32(0)
			}
		}
		for i, x := range b.Models {
			vec.SumSqKept(&k.sq[i], x[s0:s0+m], b.Base[s0:s0+m], kept)
		}
	}
}

func (k *sceKernel) EndScan(pass int) {
	last := 0
	if k.selecting {
		last = 2
	}
	switch {
	case k.selecting && pass == 0:
		keep := int(float64(k.nonzero) * k.topk)
		k.sel.keep = keep
		if keep <= 0 {
			k.sel.none, k.sel.cut, k.sel.hi = true, 1<<40, nil
			return
		}
		k.sel.endScan(0, k.n)
	case k.selecting && pass == 1:
		if !k.sel.none {
			k.sel.endScan(1, k.n)
		}
	case pass == last:
		k.w = make([]float64, k.k)
		var sum float64
		for i, s := range k.sq {
			k.w[i] = s / float64(k.n)
			sum += k.w[i]
		}
		for i := range k.w {
			if math.Abs(sum) < 1e-6 {
				k.w[i] = 1 / float64(k.k)
			} else {
				k.w[i] /= sum
			}
		}
	}
}

// Merge works on runs of gtaSub elements, a loop per model: the sum of the task vectors
// (its sign is the elected one), then the agreeing terms d_i w_i and their weights, each summed
// in model order from +0 as a loop per element would (skipped terms add +0). Elements outside
// the top k keep the base.
func (k *sceKernel) Merge(b *Block) {
	if k.mixed == nil {
		k.sum, k.mixed, k.div = make([]float64, gtaSub), make([]float64, gtaSub), make([]float64, gtaSub)
		k.kept = make([]uint32, gtaSub)
	}
	n := len(b.Base)
	for s0 := 0; s0 < n; s0 += gtaSub {
		m := min(gtaSub, n-s0)
		base, out := b.Base[s0:s0+m], b.Out[s0:s0+m]
		kept := k.kept[:m]
		for j := range kept {
			kept[j] = ^uint32(0)
		}
		if k.selecting {
			k.keptMask(kept, b.Offset+s0)
		}
		sum, mixed, div := k.sum[:m], k.mixed[:m], k.div[:m]
		clear(sum)
		clear(mixed)
		clear(div)
		for _, x := range b.Models {
			vec.AddTask(sum, x[s0:s0+m], base, 1, 1)
		}
		for i, x := range b.Models {
			vec.ElectTask(mixed, div, x[s0:s0+m], base, sum, k.w[i])
		}
		vec.SCEFinish(out, base, mixed, div, kept)
	}
}

// markBuckets records, in the second pass, which elements lie above the cut's high bucket
// (kept whatever the cut) and which in it.
func (k *sceKernel) markBuckets(off int, keys []uint32) {
	if k.keep == nil {
		words := (k.n + 63) / 64
		k.keep = take[uint64](k.arena, "sce.keep", 0, words)
		k.inBucket = take[uint64](k.arena, "sce.bucket", 0, words)
	}
	hb := k.sel.hiBucket
	for j, key := range keys {
		e := off + j
		hi := key >> 16
		k.keep[e>>6] |= uint64(b2i(hi > hb)) << (e & 63)
		k.inBucket[e>>6] |= uint64(b2i(hi == hb)) << (e & 63)
	}
}

// settle decides, in the weights' pass, the elements of the run [s0, s0+m) of b that lie in
// the cut's high bucket: their variances again, one by one, placed against the cut in element
// order (the order in which ties at the cut are kept).
func (k *sceKernel) settle(b *Block, s0, m int) {
	if k.sel.none {
		return
	}
	for e := b.Offset + s0; e < b.Offset+s0+m; {
		w := k.inBucket[e>>6] >> (e & 63)
		if w == 0 {
			e = (e | 63) + 1
			continue
		}
		e += bits.TrailingZeros64(w)
		if e >= b.Offset+s0+m {
			break
		}
		if k.sel.keepMask(k.varKeyAt(b, e-b.Offset)) != 0 {
			k.keep[e>>6] |= 1 << (e & 63)
		}
		e++
	}
}

// keptMask expands the kept marks of the elements from e on into kept.
func (k *sceKernel) keptMask(kept []uint32, e int) {
	if k.sel.none {
		clear(kept)
		return
	}
	for j := range kept {
		kept[j] = -uint32(k.keep[(e+j)>>6] >> ((e + j) & 63) & 1)
	}
}

// varKeyAt is varKeys' key for element j of b alone, from the same operations in the same
// order (one-element runs).
func (k *sceKernel) varKeyAt(b *Block, j int) uint32 {
	var mean, v [1]float64
	base := b.Base[j : j+1]
	for _, x := range b.Models {
		vec.AddTask(mean[:], x[j:j+1], base, 1, 1)
	}
	vec.Quotients(mean[:], float64(k.k))
	for _, x := range b.Models {
		vec.AddSqDev(v[:], x[j:j+1], base, mean[:])
	}
	vec.Quotients(v[:], float64(k.k))
	return math.Float32bits(float32(v[0]))
}
