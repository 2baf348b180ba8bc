package merge

import (
	"math"

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
	k := &sceKernel{k: len(ti.Models), topk: p.Float("select_topk"), sq: make([]float64, len(ti.Models)), n: ti.Numel}
	k.selecting = k.topk < 1
	return k, nil
}

type sceKernel struct {
	k         int
	n         int
	topk      float64
	selecting bool
	nonzero   int64
	sel       topK
	eqKeep    int64 // sel's state after the search, restored before each pass that uses it
	eqSkip    int64
	sq        []float64 // sum of squares of the kept task vectors, per model
	w         []float64
	keys      []uint32
	mean      []float64 // varKeys' scratch: one run's means and variances
	vari      []float64
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
		if k.sel.none || k.sel.all {
			return
		}
		if k.sel.lo == nil {
			k.sel.lo = make([]int64, 1<<16)
		}
		zeros := vec.BucketCounts((*[1 << 16]int64)(k.sel.lo), keys, k.sel.hiBucket)
		if k.sel.hiBucket == 0 {
			k.sel.lo[0] += zeros
		}
		return
	}
	// The weights' pass: mean squares of the kept task vectors.
	var keys []uint32
	if k.selecting {
		keys = k.varKeys(b)
	}
	if k.kept == nil {
		k.kept = make([]uint32, gtaSub)
	}
	// A run's top-k masks (in element order: the tie counting is stateful), then each model's
	// squares in element order; a dropped element adds +0, which changes no sum of squares.
	n := len(b.Base)
	for s0 := 0; s0 < n; s0 += gtaSub {
		m := min(gtaSub, n-s0)
		kept := k.kept[:m]
		if k.selecting {
			for j, key := range keys[s0 : s0+m] {
				kept[j] = k.sel.keepMask(key)
			}
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
		k.eqKeep, k.eqSkip = k.sel.eqKeep, k.sel.eqSkip
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
		k.sel.eqKeep, k.sel.eqSkip = k.eqKeep, k.eqSkip // the output pass walks the mask again
	}
}

// Merge works on runs of gtaSub elements, a loop per model: the sum of the task vectors
// (its sign is the elected one), then the agreeing terms d_i w_i and their weights, each summed
// in model order from +0 as a loop per element would (skipped terms add +0). Elements outside
// the top k keep the base.
func (k *sceKernel) Merge(b *Block) {
	var keys []uint32
	if k.selecting {
		keys = k.varKeys(b)
	}
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
			for j, key := range keys[s0 : s0+m] {
				kept[j] = k.sel.keepMask(key)
			}
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
