package merge

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/ordermerge/ordermerge/merge/internal/vec"
	"github.com/ordermerge/ordermerge/tensor"
)

// The task-vector family: each model contributes its delta d_i = x_i - b from the base,
// optionally sparsified (TIES: keep the largest magnitudes; DARE: keep at random), weighted,
// optionally filtered by sign consensus (TIES), optionally normalised, scaled by lambda and
// added back to the base. One kernel serves the four methods; each method is a small type that
// fixes its options and defaults (mergekit's defaults).

type sparsifyKind int

const (
	sparsifyNone sparsifyKind = iota
	sparsifyMagnitude
	sparsifyRandom
	sparsifyOutliers // breadcrumbs: drop the gamma largest and the smallest magnitudes
	sparsifyDella    // DELLA's magnitude-ranked random pruning (della.go)
)

// DARE rescaling modes.
const (
	rescaleInverseDensity = "inverse_density"
	rescaleL1             = "l1"
)

type gtaOptions struct {
	name      string
	summary   string
	sparsify  sparsifyKind
	consensus bool
	normalize bool // default
}

func (o gtaOptions) info() MethodInfo {
	params := []ParamSpec{
		weightParam("weight of the model's task vector"),
	}
	switch o.sparsify {
	case sparsifyMagnitude:
		params = append(params, densityParam("fraction of the task vector kept, largest magnitudes first"))
	case sparsifyRandom:
		params = append(params, densityParam("probability of keeping each task-vector element"))
	case sparsifyOutliers:
		params = append(params, densityParam("fraction of the task vector kept"),
			ParamSpec{Name: "gamma", PerModel: true, Kind: FloatParam, Default: 0.01, Doc: "fraction of the largest magnitudes dropped first"})
	case sparsifyDella:
		params = append(params, densityParam("mean probability of keeping a task-vector element (1 keeps all, 0 none)"),
			ParamSpec{Name: "epsilon", PerModel: true, Kind: FloatParam, Default: 0.15, Doc: "spread of the keep probabilities: by magnitude rank along dimension 1, from density - epsilon (smallest) to density + epsilon (largest); both must lie in (0, 1) when density < 1"})
	}
	params = append(params, lambdaParam, normalizeParam(o.normalize, "divide by the sum of the weights (with consensus: of the agreeing weights)"), int8MaskParam)
	switch o.sparsify {
	case sparsifyRandom:
		params = append(params,
			ParamSpec{Name: "rescale", Kind: BoolParam, Default: 1, Fixed: true, Doc: "rescale the kept elements"},
			ParamSpec{Name: "rescale_mode", Kind: ChoiceParam, Fixed: true, DefaultChoice: rescaleL1,
				Choices: []string{rescaleL1, rescaleInverseDensity},
				Doc:     "l1: match the L1 norm of the unpruned task vector (mergekit's default since its RescaleNorm, 2025); inverse_density: divide kept elements by density (the DARE paper, ordermerge before issue 14)"})
	case sparsifyOutliers:
		params = append(params, ParamSpec{Name: "rescale", Kind: BoolParam, Fixed: true, Doc: "accepted for mergekit compatibility; breadcrumbs does not rescale (mergekit's default)"})
	case sparsifyDella:
		params = append(params, ParamSpec{Name: "rescale", Kind: BoolParam, Default: 1, Fixed: true, Doc: "rescale the kept elements so that the L1 norm of each pruned task vector is unchanged (mergekit's rule; no effect at density 1)"})
	}
	passes := "0 (element-wise)"
	switch {
	case o.sparsify == sparsifyMagnitude:
		passes = "2 when density < 1 (exact top-k by a two-level radix count), else 0"
	case o.sparsify == sparsifyRandom:
		passes = "1 with rescale_mode l1 (the default) and density < 1, else 0"
	case o.sparsify == sparsifyOutliers:
		passes = "2 when density < 1 (two exact cuts by a two-level radix count), else 0"
	case o.sparsify == sparsifyDella:
		passes = "1 when density < 1 and rescale (the default) or rows straddle 65536-element blocks, else 0"
	}
	return MethodInfo{
		Name: o.name, Summary: o.summary, NeedsBase: true, MinModels: 1,
		Randomised: o.sparsify == sparsifyRandom || o.sparsify == sparsifyDella, Passes: passes, Params: params,
	}
}

type taskArithmetic struct{}
type ties struct{}
type dareLinear struct{}
type dareTies struct{}
type breadcrumbs struct{}
type breadcrumbsTies struct{}
type della struct{}
type dellaLinear struct{}

var (
	taskArithmeticOpts = gtaOptions{name: "task_arithmetic", summary: "base + lambda * sum of weighted task vectors"}
	tiesOpts           = gtaOptions{name: "ties", summary: "TIES: trim task vectors to the largest magnitudes, elect the sign, merge the agreeing parts", sparsify: sparsifyMagnitude, consensus: true, normalize: true}
	dareLinearOpts     = gtaOptions{name: "dare_linear", summary: "DARE: drop task-vector elements at random and rescale, then add them", sparsify: sparsifyRandom}
	dareTiesOpts       = gtaOptions{name: "dare_ties", summary: "DARE sparsification with TIES sign consensus", sparsify: sparsifyRandom, consensus: true}
	breadcrumbsOpts    = gtaOptions{name: "breadcrumbs", summary: "Model Breadcrumbs: drop the largest (gamma) and smallest task-vector magnitudes, then add", sparsify: sparsifyOutliers}
	breadcrumbsTiesOpt = gtaOptions{name: "breadcrumbs_ties", summary: "Model Breadcrumbs sparsification with TIES sign consensus", sparsify: sparsifyOutliers, consensus: true}
	dellaOpts          = gtaOptions{name: "della", summary: "DELLA: magnitude-ranked pruning with TIES sign consensus", sparsify: sparsifyDella, consensus: true, normalize: true}
	dellaLinearOpts    = gtaOptions{name: "della_linear", summary: "DELLA pruning, then task arithmetic", sparsify: sparsifyDella}
)

func (taskArithmetic) Info() MethodInfo  { return taskArithmeticOpts.info() }
func (ties) Info() MethodInfo            { return tiesOpts.info() }
func (dareLinear) Info() MethodInfo      { return dareLinearOpts.info() }
func (dareTies) Info() MethodInfo        { return dareTiesOpts.info() }
func (breadcrumbs) Info() MethodInfo     { return breadcrumbsOpts.info() }
func (breadcrumbsTies) Info() MethodInfo { return breadcrumbsTiesOpt.info() }
func (della) Info() MethodInfo           { return dellaOpts.info() }
func (dellaLinear) Info() MethodInfo     { return dellaLinearOpts.info() }
func (breadcrumbs) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	return newGTAKernel(breadcrumbsOpts, t, p)
}
func (breadcrumbsTies) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	return newGTAKernel(breadcrumbsTiesOpt, t, p)
}
func (della) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	return newGTAKernel(dellaOpts, t, p)
}
func (dellaLinear) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	return newGTAKernel(dellaLinearOpts, t, p)
}

func (taskArithmetic) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	return newGTAKernel(taskArithmeticOpts, t, p)
}
func (ties) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	return newGTAKernel(tiesOpts, t, p)
}
func (dareLinear) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	return newGTAKernel(dareLinearOpts, t, p)
}
func (dareTies) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	return newGTAKernel(dareTiesOpts, t, p)
}

type gtaKernel struct {
	o         gtaOptions
	w         []float64
	lambda    float64
	normalize bool
	numel     int
	// magnitude pruning: keep[i] elements of model i, by the radix search below; breadcrumbs
	// also drops drop[i], the largest magnitudes
	topk []topK
	drop []topK
	// random pruning
	keepThr []uint64
	streams []stream
	scale   []float64
	l1      bool
	sumAbs  []float64 // l1 rescale: sum |d| over all elements, and over kept ones
	sumKept []float64
	della   []*dellaPruner // DELLA: one per model, nil for a model kept whole (density >= 1)
	keeps   [][]uint32     // DELLA: the current block's keep masks
	scratch [][]uint32     // DARE: one block of draws per model
	us      [][]uint32     // the current block's draws
	wdBuf   [][]float64    // weighted deltas of one run of gtaSub elements, per model
	wd32    [][]float32    // the same in float32, as mergekit rounds them, for the sign election
	acc     []float64      // mergeSum's sums of one run of gtaSub elements
	keys    []uint32       // Scan: one model's magnitude keys for a block
	// elect's per-element sums of one run: the float32 sum for the sign, the agreeing terms
	// and their weights
	s32        []float32
	mixed, div []float64
	// A 16-bit compute dtype (dt): the task vectors rounded to it, per model, and zeros
	// standing in for the base when the statistics passes read them.
	dt    tensor.DType
	dBuf  [][]float32
	zeros []float32
}

// stateBytes bounds what the kernel holds besides the engine's buffers: per magnitude cut,
// its two count tables and, where the tie order is kept (tensors up to exactTiesLimit), the
// magnitudes (all cuts collect them in the same pass) and the tie marks; one tie sort at a
// time (its pairs and order); DELLA's ranking of one row and its keep bits.
func (k *gtaKernel) stateBytes() int64 {
	n := int64(k.numel)
	var s int64
	ties := false
	for i := range k.topk {
		cuts := []*topK{&k.topk[i]}
		if k.drop != nil {
			cuts = append(cuts, &k.drop[i])
		}
		for _, c := range cuts {
			if !c.scans() {
				continue
			}
			s += (4<<15 + 1<<16) * 8
			if c.order != 0 && c.numel <= exactTiesLimit {
				s += 4*n + n/8
				ties = true
			}
		}
	}
	if ties {
		s += 8 * n
	}
	for _, pr := range k.della {
		if pr != nil {
			s += 36*int64(pr.slab) + n/8
		}
	}
	return s
}

// draws returns scratch buffer i for n draws.
func (k *gtaKernel) draws(i, n int) []uint32 {
	for len(k.scratch) <= i {
		k.scratch = append(k.scratch, nil)
	}
	if k.scratch[i] == nil {
		k.scratch[i] = make([]uint32, blockElems)
	}
	return k.scratch[i][:n]
}

func newGTAKernel(o gtaOptions, t TensorInfo, p *TensorParams) (Kernel, error) {
	if !t.HasBase {
		return nil, fmt.Errorf("%s needs a base model (the task vectors are differences from it)", o.name)
	}
	k := &gtaKernel{o: o, w: p.Models("weight"), lambda: p.Float("lambda"), normalize: p.Bool("normalize"), numel: t.Numel}
	if reduced(t.Compute) {
		k.dt = t.Compute
	}
	switch o.sparsify {
	case sparsifyMagnitude:
		if err := p.checkModelRange("density", 0, 1); err != nil {
			return nil, err
		}
		for _, d := range p.Models("density") {
			keep := t.Numel
			if d < 1 {
				keep = int(math.Floor(d * float64(t.Numel)))
			}
			tk := topK{keep: keep, all: keep >= t.Numel, order: +1, numel: t.Numel, arena: t.arena, id: len(k.topk)}
			if tk.all {
				tk.cut = -1 // every key is above: keep everything
			}
			k.topk = append(k.topk, tk)
		}
	case sparsifyOutliers:
		if err := p.checkModelRange("density", 0, 1); err != nil {
			return nil, err
		}
		if err := p.checkModelRange("gamma", 0, 1); err != nil {
			return nil, err
		}
		gammas := p.Models("gamma")
		for i, d := range p.Models("density") {
			if d >= 1 {
				k.topk = append(k.topk, topK{keep: t.Numel, all: true, cut: -1})
				k.drop = append(k.drop, topK{none: true, cut: 1 << 40})
				continue
			}
			// As mergekit: in ascending order of magnitude keep positions [nBot, n - nTop),
			// where a sort that is stable puts equal magnitudes in element order.
			n := t.Numel
			target := int(d * float64(n))
			nTop := int(gammas[i] * float64(n))
			nBot := n - target - nTop
			if nBot < 0 {
				nTop += nBot
				nBot = 0
			}
			keep := topK{keep: n - nBot, fromEnd: true, order: -1, numel: n, arena: t.arena, id: 2 * i}
			keep.all = keep.keep >= n
			if keep.all {
				keep.cut = -1
			}
			// mergekit slices indices[nBot:-nTop]: with nTop 0 that slice is empty and the
			// whole task vector is dropped. Kept, to give the same model.
			drop := topK{keep: nTop, fromEnd: true, order: -1, numel: n, arena: t.arena, id: 2*i + 1}
			if nTop == 0 {
				drop = topK{keep: n, all: true, cut: -1}
			}
			k.topk = append(k.topk, keep)
			k.drop = append(k.drop, drop)
		}
	case sparsifyDella:
		if err := p.checkModelRange("density", 0, 1); err != nil {
			return nil, err
		}
		dens, eps := p.Models("density"), p.Models("epsilon")
		pruned := false
		for _, d := range dens {
			pruned = pruned || d < 1
		}
		if !pruned {
			break // mergekit returns the task vectors unchanged
		}
		k.della = make([]*dellaPruner, len(dens))
		k.scale = make([]float64, len(dens))
		for i, d := range dens {
			k.scale[i] = 1
			if d >= 1 {
				continue
			}
			pr, err := newDellaPruner(t, t.Models[i], d, eps[i])
			if err != nil {
				return nil, p.modelErrorf("density", i, "%v", err)
			}
			k.della[i] = pr
		}
		k.l1 = p.Bool("rescale")
		if k.l1 {
			k.sumAbs = make([]float64, len(dens))
			k.sumKept = make([]float64, len(dens))
		}
	case sparsifyRandom:
		dens := p.Models("density")
		for i, d := range dens {
			if d <= 0 || d > 1 {
				return nil, p.modelErrorf("density", i, "must be in (0, 1]")
			}
			k.keepThr = append(k.keepThr, probThreshold(d))
			// Stream m for the model at index m of the merge's model list, so a model's mask
			// does not change when another model lacks the tensor.
			k.streams = append(k.streams, newStream(t.Seed, t.Name, uint64(t.Models[i])))
			s := 1.0
			if p.Bool("rescale") && p.Choice("rescale_mode") == rescaleInverseDensity {
				s = 1 / d
			}
			k.scale = append(k.scale, s)
		}
		// Density 1 keeps everything, and mergekit then skips the rescaling: no pass needed.
		pruned := false
		for _, d := range dens {
			pruned = pruned || d < 1
		}
		k.l1 = pruned && p.Bool("rescale") && p.Choice("rescale_mode") == rescaleL1
		if k.l1 {
			k.sumAbs = make([]float64, len(dens))
			k.sumKept = make([]float64, len(dens))
		}
	}
	return k, nil
}

func (k *gtaKernel) ScanPasses() int {
	switch {
	case k.della != nil:
		for _, pr := range k.della {
			if pr != nil && (k.l1 || pr.straddles()) {
				return 1
			}
		}
	case k.topk != nil:
		for i, tk := range k.topk {
			if tk.scans() || (k.drop != nil && k.drop[i].scans()) {
				return 2
			}
		}
	case k.l1:
		return 1
	}
	return 0
}

// reducedDeltas returns the block's task vectors in the compute dtype, as mergekit's
// x.to(dtype) - base.to(dtype) rounds them, in the kernel's buffers.
func (k *gtaKernel) reducedDeltas(b *Block) [][]float32 {
	n := len(b.Base)
	if k.dBuf == nil {
		k.dBuf = make([][]float32, len(b.Models))
		for i := range k.dBuf {
			k.dBuf[i] = make([]float32, blockElems)
		}
		k.zeros = make([]float32, blockElems)
	}
	for i, x := range b.Models {
		d := k.dBuf[i][:n]
		for j, bv := range b.Base {
			d[j] = RoundTo(k.dt, RoundTo(k.dt, x[j])-RoundTo(k.dt, bv))
		}
	}
	return k.dBuf
}

func (k *gtaKernel) Scan(pass int, b *Block) {
	if k.dt != tensor.Invalid {
		d := k.reducedDeltas(b)
		rb := Block{Offset: b.Offset, Base: k.zeros[:len(b.Base)], Models: make([][]float32, len(d))}
		for i := range d {
			rb.Models[i] = d[i][:len(b.Base)]
		}
		b = &rb
	}
	if k.della != nil {
		for i, pr := range k.della {
			if pr == nil {
				continue
			}
			all, kept := pr.scan(b.Models[i], b.Base, b.Offset, k.l1)
			if k.l1 {
				k.sumAbs[i] += all
				k.sumKept[i] += kept
			}
		}
		return
	}
	if k.l1 {
		us := k.draws(0, len(b.Base))
		for i, x := range b.Models {
			k.streams[i].fill(us, b.Offset)
			// Branch-free: keeping is a coin flip. A dropped term adds +0, which changes
			// nothing (the sums start at +0 and add magnitudes).
			var sums [2]float64
			vec.L1Sums(&sums, x[:len(b.Base)], b.Base, us, k.keepThr[i])
			k.sumAbs[i] += sums[0]
			k.sumKept[i] += sums[1]
		}
		return
	}
	if cap(k.keys) < len(b.Base) {
		k.keys = make([]uint32, blockElems)
	}
	keys := k.keys[:len(b.Base)]
	for i, x := range b.Models {
		scanKeep := k.topk[i].scans()
		scanDrop := k.drop != nil && k.drop[i].scans()
		if !scanKeep && !scanDrop {
			continue
		}
		vec.MagKeys(keys, x, b.Base)
		if scanKeep {
			k.topk[i].scan(pass, keys)
		}
		// Both cuts count the same keys in the first pass: EndScan copies the table.
		if scanDrop && (pass > 0 || !scanKeep) {
			k.drop[i].scan(pass, keys)
		}
	}
}

func (k *gtaKernel) EndScan(pass int) {
	if k.della != nil {
		for i, pr := range k.della {
			if pr == nil {
				continue
			}
			pr.endScan()
			if !k.l1 || pr.none {
				continue
			}
			// mergekit's rescaled_masked_tensor, in the working dtype: in bf16 its two norms
			// and their quotient are rounded (float16 is pruned in float32).
			all, kept := k.sumAbs[i], k.sumKept[i]
			if k.dt == tensor.BF16 {
				r := func(x float64) float64 { return float64(RoundTo(k.dt, float32(x))) }
				all, kept = r(all), r(kept)
				if all >= 1e-7 && kept >= 1e-7 {
					k.scale[i] = r(all / kept)
				}
				continue
			}
			if all >= 1e-7 && kept >= 1e-7 {
				k.scale[i] = all / kept
			}
		}
		return
	}
	if k.l1 {
		// mergekit's rule: rescale only when both norms are meaningfully above zero.
		for i := range k.scale {
			if k.sumAbs[i] >= 1e-7 && k.sumKept[i] >= 1e-7 {
				k.scale[i] = k.sumAbs[i] / k.sumKept[i]
			}
		}
		return
	}
	for i := range k.topk {
		if pass == 0 && k.topk[i].scans() && k.drop != nil && k.drop[i].scans() {
			copy(k.drop[i].hiCounts(), k.topk[i].hi) // before either adds up its lanes
		}
		if k.topk[i].scans() {
			k.topk[i].endScan(pass, k.numel)
		}
		if k.drop != nil && k.drop[i].scans() {
			k.drop[i].endScan(pass, k.numel)
		}
	}
}

// gtaSub is how many elements Merge handles per step: the weighted deltas of all models for
// that many elements stay in cache.
const gtaSub = 4096

// Merge works in two steps per run of gtaSub elements: each model's weighted, sparsified
// deltas (a loop per model, in element order, as top-k's tie counting needs), then the
// combination. Pruning and the sign election use masks instead of branches, since both are
// coin flips on real data; skipped terms contribute exactly +0, so the sums are the same as
// adding only the kept terms.
func (k *gtaKernel) Merge(b *Block) {
	if k.dt != tensor.Invalid {
		k.mergeReduced(b)
		return
	}
	n := len(b.Out)
	if k.o.sparsify == sparsifyRandom {
		k.us = k.us[:0]
		for i := range b.Models {
			k.us = append(k.us, k.draws(i, n))
			k.streams[i].fill(k.us[i], b.Offset)
		}
	}
	k.dellaMasks(b.Models, b.Base, b.Offset)
	if k.wdBuf == nil {
		k.wdBuf = make([][]float64, len(b.Models))
		k.wd32 = make([][]float32, len(b.Models))
		for i := range k.wdBuf {
			k.wdBuf[i] = make([]float64, gtaSub)
			k.wd32[i] = make([]float32, gtaSub)
		}
	}
	// Without consensus every term counts: the divisor is the same for every element.
	var sumW float64
	for _, w := range k.w {
		sumW += w
	}
	if math.Abs(sumW) < 1e-8 {
		sumW = 1
	}
	if !k.o.consensus && (k.o.sparsify == sparsifyNone || k.o.sparsify == sparsifyRandom) {
		k.mergeSum(b, sumW)
		return
	}
	for s0 := 0; s0 < n; s0 += gtaSub {
		m := min(gtaSub, n-s0)
		base := b.Base[s0 : s0+m]
		for i, x := range b.Models {
			x := x[s0 : s0+m]
			wd, w3 := k.wdBuf[i][:m], k.wd32[i][:m]
			w, scale := k.w[i], 1.0
			if k.scale != nil {
				scale = k.scale[i]
			}
			// The sign election uses the weighted task vectors as mergekit's float32 torch code
			// rounds them (a sum that cancels to about 0 must get mergekit's sign).
			w32, s32 := float32(w), float32(scale)
			switch k.o.sparsify {
			case sparsifyMagnitude:
				d := w3 // the pruned deltas, then in place their weighted float32 form
				k.topk[i].pruned(d, x, base)
				vec.Weigh(wd, d, w, scale, w32, s32)
			case sparsifyOutliers:
				d := w3 // the pruned deltas, then in place their weighted float32 form
				k.topk[i].prunedBand(d, x, base, &k.drop[i])
				vec.Weigh(wd, d, w, scale, w32, s32)
			case sparsifyRandom:
				vec.PruneRandom(w3, x, base, k.us[i][s0:s0+m], k.keepThr[i])
				vec.Weigh(wd, w3, w, scale, w32, s32)
			case sparsifyDella:
				var keep []uint32 // nil: the model is kept whole
				if k.keeps != nil && k.keeps[i] != nil {
					keep = k.keeps[i][s0 : s0+m]
				}
				vec.MaskDelta(w3, x, base, keep)
				vec.Weigh(wd, w3, w, scale, w32, s32)
			case sparsifyNone:
				if !k.o.consensus { // task arithmetic: no sign election
					for j, bv := range base {
						wd[j] = w * float64(x[j]-bv) * scale
					}
					break
				}
				vec.MaskDelta(w3, x, base, nil)
				vec.Weigh(wd, w3, w, scale, w32, s32)
			}
		}
		out := b.Out[s0 : s0+m]
		if k.o.consensus {
			k.elect(out, base)
			continue
		}
		for j, bv := range base {
			var sum float64
			for i := range k.wdBuf {
				sum += k.wdBuf[i][j]
			}
			if k.normalize {
				sum /= sumW
			}
			out[j] = float32(float64(bv) + k.lambda*sum)
		}
	}
}

// elect combines the weighted deltas in wdBuf (and their float32 roundings in wd32) of one
// run of elements with TIES's sign election, a loop per model over the run: for each element
// the sign of the float32 sum of the models' terms (0 counts as +), then the sum of the terms
// of that sign and of their weights, each added in model order from +0 as a loop per element
// would (skipped terms add +0); the divisor 0 becomes 1.
func (k *gtaKernel) elect(out, base []float32) {
	m := len(out)
	if k.s32 == nil {
		k.s32, k.mixed, k.div = make([]float32, gtaSub), make([]float64, gtaSub), make([]float64, gtaSub)
	}
	s32, mixed, div := k.s32[:m], k.mixed[:m], k.div[:m]
	clear(s32)
	clear(mixed)
	clear(div)
	for _, w3 := range k.wd32 {
		vec.AddF32(s32, w3)
	}
	for i, buf := range k.wdBuf {
		vec.Elect(mixed, div, buf[:m], s32, k.w[i])
	}
	vec.ElectFinish(out, base, mixed, div, k.lambda, k.normalize)
}

// dellaMasks computes the block's DELLA keep masks, per model (nil for a model kept whole).
func (k *gtaKernel) dellaMasks(models [][]float32, base []float32, off int) {
	if k.della == nil {
		return
	}
	if k.keeps == nil {
		k.keeps = make([][]uint32, len(k.della))
	}
	for i, pr := range k.della {
		if pr != nil {
			k.keeps[i] = pr.masks(models[i], base, off)
		}
	}
}

// topK finds, over two scan passes, the keep largest |d| of one model's task vector, and then
// tells the output pass element by element whether to keep it. The magnitude's float32 bits
// order like the values, so a two-level count (top 15 bits, then low 16 bits) finds the exact
// threshold without sorting or holding the tensor; elements equal to the threshold are kept
// in element order until keep is reached, which makes ties deterministic.
type topK struct {
	keep int
	all  bool
	hi   []int64 // pass 0: counts by key >> 16
	lo   []int64 // pass 1: counts by key & 0xffff within the threshold's high bucket
	// found by the passes
	hiBucket uint32
	above    int64 // elements strictly above the current candidate range
	cut      int64 // keys above are kept (-1: all; 2^40: none)
	eqKeep   int64 // elements whose key equals cut still to keep
	none     bool
	// fromEnd keeps the last eqKeep of the elements equal to the cut instead of the first
	// (what a stable ascending sort does with its top positions); eqSkip counts down the
	// equal elements to pass over first.
	fromEnd bool
	eqSkip  int64
	// order asks for mergekit's choice among equal magnitudes at the cut: the elements torch's
	// sort puts inside the kept positions (torchsort.go), for tensors of at most
	// exactTiesLimit elements: +1, the first keep of a descending sort (TIES); -1, the last
	// keep of an ascending sort (breadcrumbs). mags collects the magnitudes in pass 1; eqSel
	// marks, by element index, the tied elements kept; pos counts keepMask's calls.
	order int
	numel int
	mags  []float32
	eqSel []uint64
	pos   int64
	// arena holds the tables and marks above between tensors (id tells the cuts apart).
	arena *arena
	id    int
}

// exactTiesLimit bounds the tensors whose magnitudes are held for mergekit's tie order (16
// MiB of magnitudes, 32 MiB while sorting); larger tensors keep ties in element order.
const exactTiesLimit = 1 << 22

// selectTies marks the elements equal to the cut that torch's sort puts inside the kept
// positions.
func (t *topK) selectTies(numel int) {
	// The elements equal to the cut take the positions [p0, p1) of the sorted order; only the
	// part of them inside the kept positions [lo, hi) is needed.
	cut := uint32(t.cut)
	p0, eq := 0, 0
	for _, m := range t.mags {
		k := math.Float32bits(m)
		p0 += int(b2i(k > cut && t.order > 0 || k < cut && t.order < 0))
		eq += int(b2i(k == cut))
	}
	lo, hi := 0, t.keep
	if t.order < 0 {
		lo, hi = numel-t.keep, numel
	}
	lo, hi = max(lo, p0), min(hi, p0+eq)
	hi = max(hi, lo)
	// One sort at a time per worker: every cut shares the pairs' buffer.
	sorted := torchPairsIn(takeUninit[kv](t.arena, "topk.sort", 0, numel), t.mags, t.order > 0, lo, hi)
	t.eqSel = take[uint64](t.arena, "topk.eqsel", t.id, (numel+63)/64)
	for _, p := range sorted[lo:hi] {
		if i := p.i; math.Float32bits(p.v) == cut {
			t.eqSel[i>>6] |= 1 << (i & 63)
		}
	}
}

// scans says the search needs the statistics passes.
func (t *topK) scans() bool { return !t.all && !t.none }

// hiCounts returns the first pass's counts: four interleaved counters per bucket, key>>16<<2
// | lane for lane j mod 4 (endScan adds them up). Neighbouring elements mostly share a
// bucket, and increments of one counter would wait on each other.
func (t *topK) hiCounts() []int64 {
	if t.hi == nil {
		t.hi = take[int64](t.arena, "topk.counts", t.id, 4<<15)
	}
	return t.hi
}

func magKey(d float32) uint32 { return math.Float32bits(d) & 0x7fffffff }

// scan counts a block's magnitude keys (magKey of each task-vector element, in order).
func (t *topK) scan(pass int, keys []uint32) {
	if pass == 0 {
		h := t.hiCounts()
		j := 0
		for ; j+4 <= len(keys); j += 4 {
			h[keys[j]>>16<<2]++
			h[keys[j+1]>>16<<2|1]++
			h[keys[j+2]>>16<<2|2]++
			h[keys[j+3]>>16<<2|3]++
		}
		for ; j < len(keys); j++ {
			h[keys[j]>>16<<2]++
		}
		return
	}
	if t.none {
		return
	}
	if t.lo == nil {
		t.lo = take[int64](t.arena, "topk.counts", t.id, 1<<16) // the first pass's table, reused
	}
	// Ties in the lowest bucket (zeros and subnormals) change nothing: a kept zero adds
	// nothing and TIES's sign election ignores it. Only other cuts need the exact order.
	collect := t.order != 0 && t.numel <= exactTiesLimit && t.hiBucket != 0
	if collect {
		if t.mags == nil {
			t.mags = takeUninit[float32](t.arena, "topk.mags", t.id, t.numel)[:0]
		}
		if len(keys) > 0 { // keys are the magnitudes' bits
			t.mags = append(t.mags, unsafe.Slice((*float32)(unsafe.Pointer(&keys[0])), len(keys))...)
		}
	}
	zeros := vec.BucketCounts((*[1 << 16]int64)(t.lo), keys, t.hiBucket)
	if t.hiBucket == 0 {
		t.lo[0] += zeros
	}
}

func (t *topK) endScan(pass int, numel int) {
	if t.keep <= 0 {
		t.none, t.cut = true, 1<<40
		return
	}
	if pass == 0 {
		for b := range len(t.hi) / 4 {
			t.hi[b] = t.hi[4*b] + t.hi[4*b+1] + t.hi[4*b+2] + t.hi[4*b+3]
		}
		t.hi = t.hi[:len(t.hi)/4]
		var acc int64
		for h := len(t.hi) - 1; h >= 0; h-- {
			if acc+t.hi[h] >= int64(t.keep) {
				t.hiBucket, t.above = uint32(h), acc
				break
			}
			acc += t.hi[h]
		}
		t.hi = nil
		return
	}
	acc := t.above
	for l := len(t.lo) - 1; l >= 0; l-- {
		if acc+t.lo[l] >= int64(t.keep) {
			t.cut = int64(t.hiBucket<<16 | uint32(l))
			t.eqKeep = int64(t.keep) - acc
			if t.fromEnd {
				t.eqSkip = t.lo[l] - t.eqKeep
			}
			if t.eqKeep < t.lo[l] && len(t.mags) == numel && t.cut != 0 {
				t.selectTies(numel)
			}
			t.mags = nil
			break
		}
		acc += t.lo[l]
	}
	t.lo = nil
}

// pruned writes x - base into d, +0 where the element is not kept: keepMask for a run of
// elements, with the search's state in registers.
func (t *topK) pruned(d, x, base []float32) {
	d, x = d[:len(base)], x[:len(base)]
	cut := t.cut
	// Most runs hold no element equal to the cut: then the state does not change, and the
	// elements above it are all that is kept. A cut at 0 has only zeros at it, which add +0
	// (or -0, the same to every sum, which starts at +0) kept or not, and never agree with an
	// elected sign: whichever of them the count keeps, the output is the same.
	if cut >= 0 && cut < 1<<31 && (!vec.PruneAbove(d, x, base, uint32(cut)) || cut == 0) {
		if t.eqSel != nil {
			t.pos += int64(len(base))
		}
		return
	}
	if sel := t.eqSel; sel != nil {
		pos := t.pos
		for j, bv := range base {
			v := x[j] - bv
			k := int64(magKey(v))
			keep := b2i(k > cut) | (b2i(k == cut) & (int64(sel[pos>>6]>>(pos&63)) & 1))
			pos++
			d[j] = math.Float32frombits(math.Float32bits(v) & -uint32(keep))
		}
		t.pos = pos
		return
	}
	eqSkip, eqKeep := t.eqSkip, t.eqKeep
	for j, bv := range base {
		v := x[j] - bv
		k := int64(magKey(v))
		isEq := b2i(k == cut)
		skip := isEq & b2i(eqSkip > 0)
		eqSkip -= skip
		eq := isEq &^ skip & b2i(eqKeep > 0)
		eqKeep -= eq
		d[j] = math.Float32frombits(math.Float32bits(v) & -uint32(b2i(k > cut)|eq))
	}
	t.eqSkip, t.eqKeep = eqSkip, eqKeep
}

// prunedBand writes x - base into d where t keeps the element and drop does not (breadcrumbs'
// band of magnitudes), +0 elsewhere. Runs with no element at either cut go through vec's
// loops, which leave the search state as it is.
func (t *topK) prunedBand(d, x, base []float32, drop *topK) {
	d, x = d[:len(base)], x[:len(base)]
	fast := func(c int64) bool { return c >= 0 && c < 1<<31 }
	// As in pruned, ties at a cut of 0 are zeros, which cannot change the output.
	if fast(t.cut) && fast(drop.cut) &&
		(!vec.PruneAbove(d, x, base, uint32(t.cut)) || t.cut == 0) &&
		(!vec.DropAbove(d, uint32(drop.cut)) || drop.cut == 0) {
		for _, u := range []*topK{t, drop} {
			if u.eqSel != nil {
				u.pos += int64(len(base))
			}
		}
		return
	}
	for j, bv := range base {
		v := x[j] - bv
		key := magKey(v)
		d[j] = math.Float32frombits(math.Float32bits(v) & t.keepMask(key) &^ drop.keepMask(key))
	}
}

// keepMask returns all ones if the next element (in element order) of the task vector is
// kept, else zero, without branches: which elements pass is a coin flip on real data.
func (t *topK) keepMask(key uint32) uint32 {
	k := int64(key)
	gt := b2i(k > t.cut)
	isEq := b2i(k == t.cut)
	if t.eqSel != nil {
		p := t.pos
		t.pos++
		sel := int64(t.eqSel[p>>6]>>(p&63)) & 1
		return -uint32(gt | (isEq & sel))
	}
	skip := isEq & b2i(t.eqSkip > 0)
	t.eqSkip -= skip
	eq := isEq &^ skip & b2i(t.eqKeep > 0)
	t.eqKeep -= eq
	return -uint32(gt | eq)
}

// mergeReduced is Merge in a 16-bit compute dtype, operation by operation as mergekit's
// generalized task arithmetic runs in torch: task vectors, pruning and rescaling, weights and
// weighted task vectors rounded to the dtype; the sign election on their float32 sum; the
// agreeing terms and their weights summed in float32 and rounded; the quotient, the lambda
// product (when lambda is not 1) and the sum with the base rounded.
func (k *gtaKernel) mergeReduced(b *Block) {
	n := len(b.Out)
	r := func(x float32) float32 { return RoundTo(k.dt, x) }
	deltas := k.reducedDeltas(b)
	if k.della != nil {
		ds := make([][]float32, len(b.Models))
		for i := range ds {
			ds[i] = deltas[i][:n]
		}
		k.dellaMasks(ds, k.zeros[:n], b.Offset)
	}
	if k.o.sparsify == sparsifyRandom {
		k.us = k.us[:0]
		for i := range b.Models {
			k.us = append(k.us, k.draws(i, n))
			k.streams[i].fill(k.us[i], b.Offset)
		}
	}
	w := make([]float32, len(k.w))
	var sumW float32
	for i, x := range k.w {
		w[i] = r(float32(x))
		sumW += w[i]
	}
	sumW = r(sumW)
	if math.Abs(float64(sumW)) < 1e-8 {
		sumW = 1
	}
	scale := make([]float32, len(k.w))
	for i := range scale {
		scale[i] = 1
		if k.scale != nil && k.scale[i] != 1 {
			scale[i] = r(float32(k.scale[i]))
			if k.della != nil && k.dt != tensor.BF16 {
				scale[i] = float32(k.scale[i]) // DELLA rescales float16 in float32
			}
		}
	}
	lambda := r(float32(k.lambda))
	wd := make([]float32, len(b.Models))
	for j := 0; j < n; j++ {
		var sum float32
		for i := range b.Models {
			d := deltas[i][j]
			switch k.o.sparsify {
			case sparsifyMagnitude:
				d = math.Float32frombits(math.Float32bits(d) & k.topk[i].keepMask(magKey(d)))
			case sparsifyOutliers:
				key := magKey(d)
				d = math.Float32frombits(math.Float32bits(d) & k.topk[i].keepMask(key) &^ k.drop[i].keepMask(key))
			case sparsifyRandom:
				if uint64(k.us[i][j]) >= k.keepThr[i] {
					d = 0
				}
			case sparsifyDella:
				if k.keeps != nil && k.keeps[i] != nil && k.keeps[i][j] == 0 {
					d = 0
				}
			}
			if scale[i] != 1 {
				d = r(d * scale[i])
			}
			wd[i] = r(d * w[i])
			sum += wd[i]
		}
		mixed, div := r(sum), sumW
		if k.o.consensus {
			positive := sum >= 0
			var m, dv float32
			for i, x := range wd {
				if (x > 0 && positive) || (x < 0 && !positive) {
					m += x
					dv += w[i]
				}
			}
			mixed, div = r(m), r(dv)
			if div == 0 {
				div = 1
			}
		}
		if k.normalize {
			mixed = r(mixed / div)
		}
		if k.lambda != 1 {
			mixed = r(mixed * lambda)
		}
		b.Out[j] = r(r(b.Base[j]) + mixed)
	}
}
