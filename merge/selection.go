package merge

import "fmt"

// selection is the paper's parameter-selection merging: every element (or row, or whole
// tensor, by granularity) is copied from one model drawn with probability w_i / sum(w).
// With resample, a draw that lands on an element equal to the base's is redrawn (see doc.go).
type selection struct{}

// Granularities of parameter selection.
const (
	granElement = "element"
	granRow     = "row"
	granTensor  = "tensor"
)

func (selection) Info() MethodInfo {
	return MethodInfo{
		Name:       "parameter_selection",
		Summary:    "copy each element from one randomly drawn model (Ju et al. 2024), optionally resampling elements that equal the base",
		MinModels:  1,
		MaxModels:  254,
		Randomised: true,
		Selecting:  true,
		Passes:     "0; 1 with resample at row or tensor granularity",
		Params: []ParamSpec{
			weightParam("relative probability of drawing the model (uniform by default)"),
			{Name: "resample", Kind: BoolParam, Fixed: true, Doc: "redraw where the drawn model's element equals the base's (needs a base)"},
			{Name: "resample_n", Kind: IntParam, Fixed: true, Doc: "0: redraw once among the models that differ from the base (keep the base only when none does); n > 0: redraw up to n times among all models"},
			{Name: "granularity", Kind: ChoiceParam, Fixed: true, DefaultChoice: granElement, Choices: []string{granElement, granRow, granTensor},
				Doc: "unit drawn at once: element (the paper), row (slice along the first dimension; a 1-D tensor is one row) or tensor"},
		},
	}
}

func (selection) NewKernel(t TensorInfo, p *TensorParams) (Kernel, error) {
	w := p.Models("weight")
	sum, err := checkWeightsSum(p, "weight", true)
	if err != nil {
		return nil, err
	}
	if sum <= 0 {
		return nil, p.modelErrorf("weight", 0, "the selection weights must not all be 0")
	}
	resample := p.Bool("resample")
	if resample && !t.HasBase {
		return nil, fmt.Errorf("%s: resampling compares with the base model, but the merge has none", p.where["resample"])
	}
	n := p.Int("resample_n")
	if n < 0 || n > 1000 {
		return nil, p.errorf("resample_n", "must be in [0, 1000]")
	}
	k := &selectionKernel{
		w:        w,
		pick:     newPicker(w),
		first:    newStream(t.Seed, t.Name, 0),
		resample: resample,
		gran:     p.Choice("granularity"),
		numel:    t.Numel,
		models:   len(w),
		elig:     make([]bool, len(w)),
	}
	// Redraws use stream 1 (resample_n 0) or streams 1..n (one per attempt).
	for a := int64(1); a <= max(n, 1); a++ {
		k.redraw = append(k.redraw, newStream(t.Seed, t.Name, uint64(a)))
	}
	k.finite = n > 0
	switch k.gran {
	case granRow:
		k.unitLen = t.Numel
		if len(t.Shape) >= 2 && t.Shape[0] > 0 {
			k.unitLen = t.Numel / t.Shape[0]
		}
	case granTensor:
		k.unitLen = t.Numel
	default:
		k.unitLen = 1
	}
	if k.unitLen == 0 {
		k.unitLen = 1
	}
	return k, nil
}

type selectionKernel struct {
	w        []float64
	pick     picker
	first    stream
	redraw   []stream
	finite   bool
	resample bool
	gran     string
	unitLen  int
	numel    int
	models   int
	// differs[u*models+k] says unit u of model k differs from the base somewhere; filled by
	// the scan pass for resampling at row or tensor granularity.
	differs []bool
	elig    []bool      // scratch: which models differ from the base at the current element
	table   []uint64    // eligibleTable, built on first use
	scratch [2][]uint32 // draws of one block (first draw, redraw)
	small   [3][]uint8  // resampling: first picks, masks, final picks of one block
}

func (k *selectionKernel) unitResample() bool { return k.resample && k.gran != granElement }

func (k *selectionKernel) ScanPasses() int {
	if k.unitResample() {
		return 1
	}
	return 0
}

func (k *selectionKernel) Scan(pass int, b *Block) {
	if k.differs == nil {
		units := (k.numel + k.unitLen - 1) / k.unitLen
		k.differs = make([]bool, units*k.models)
	}
	for j, base := range b.Base {
		u := (b.Offset + j) / k.unitLen
		for m, x := range b.Models {
			if x[j] != base {
				k.differs[u*k.models+m] = true
			}
		}
	}
}

func (k *selectionKernel) EndScan(int) {}

func (k *selectionKernel) Merge(b *Block) {
	switch {
	case k.gran != granElement:
		k.mergeUnits(b)
	case k.resample && !k.finite && k.models <= maxTableModels:
		k.mergeResampleTable(b)
	case k.resample:
		k.mergeResample(b)
	default:
		k.mergePlain(b)
	}
}

// mergePlain is the paper's rule, the hot loop of the default merge.
func (k *selectionKernel) mergePlain(b *Block) {
	out, src := b.Out, b.Source[:len(b.Out)]
	us := k.draws(0, len(out))
	k.first.fill(us, b.Offset)
	thr := k.pick.thr
	last := len(thr) - 1
	for j, u32 := range us {
		u := uint64(u32)
		// The thresholds increase, so the pick is the number of them at or below u: counted
		// without branches, which a random u would mispredict.
		s := 0
		for _, t := range thr[:last] {
			s += int(b2i(u >= t))
		}
		out[j] = b.Models[s][j]
		src[j] = uint8(s)
	}
}

// draws returns scratch buffer i for n draws.
func (k *selectionKernel) draws(i, n int) []uint32 {
	if k.scratch[i] == nil {
		k.scratch[i] = make([]uint32, blockElems)
	}
	return k.scratch[i][:n]
}

// maxTableModels bounds the models for which resampling uses a table per eligibility mask.
const maxTableModels = 8

// eligibleTable returns, for every mask D of models differing from the base, the thresholds
// of the draw among them: entry D*K+i is probThreshold of the cumulative share of the eligible
// weight up to model i (so the count of thresholds at or below u is drawAmong's pick), with
// 2^32 from the last eligible model on. Mask 0 has all thresholds 0: the count is K, the base.
func (k *selectionKernel) eligibleTable() []uint64 {
	K := k.models
	tab := make([]uint64, (1<<K)*K)
	for d := 1; d < 1<<K; d++ {
		row := tab[d*K : (d+1)*K]
		var sum float64
		last := -1
		for m, w := range k.w {
			if w > 0 && d>>m&1 == 1 {
				sum += w
				last = m
			}
		}
		if last < 0 { // only zero-weight models differ: keep the base
			continue
		}
		var acc float64
		for m, w := range k.w {
			if w > 0 && d>>m&1 == 1 {
				acc += w
			}
			row[m] = probThreshold(acc / sum)
			if m >= last {
				row[m] = uOne
			}
		}
	}
	return tab
}

// mergeResampleTable is mergeResample without branches on the data: both draws are made
// for every element and the eligibility mask chooses, so half the elements equalling the base
// (usual in bf16) costs no mispredictions. It works in simple passes over the block (first
// picks, masks, redraws, then the copy), each a tight loop. Same results as mergeResample.
func (k *selectionKernel) mergeResampleTable(b *Block) {
	if k.table == nil {
		k.table = k.eligibleTable()
		k.small = [3][]uint8{make([]uint8, blockElems), make([]uint8, blockElems), make([]uint8, blockElems)}
	}
	K := k.models
	n := len(b.Out)
	out, src, base := b.Out, b.Source[:n], b.Base[:n]
	us0, us1 := k.draws(0, n), k.draws(1, n)
	k.first.fill(us0, b.Offset)
	k.redraw[0].fill(us1, b.Offset)
	s0, mask, s1 := k.small[0][:n], k.small[1][:n], k.small[2][:n]
	clear(s0)
	clear(mask)
	for _, t := range k.pick.thr[:K-1] {
		for j, u := range us0 {
			s0[j] += uint8(b2i(uint64(u) >= t))
		}
	}
	for m := 0; m < K; m++ {
		x := b.Models[m][:n]
		for j, bv := range base {
			mask[j] |= uint8(b2i(x[j] != bv)) << m
		}
	}
	tab := k.table
	for j, u := range us1 {
		row := tab[int(mask[j])*K : int(mask[j])*K+K]
		c := 0
		for _, t := range row {
			c += int(b2i(uint64(u) >= t))
		}
		// Keep the first pick when that model differs from the base, else the redraw (K:
		// the base, when none differs).
		keep := int(mask[j]>>s0[j]) & 1
		s1[j] = uint8(c + keep*(int(s0[j])-c))
	}
	var vals [maxTableModels + 1][]float32
	for m := 0; m < K; m++ {
		vals[m] = b.Models[m][:n]
	}
	vals[K] = base
	for j, s := range s1 {
		out[j] = vals[s][j]
		src[j] = s | uint8(b2i(int(s) == K))*sourceBase
	}
}

// mergeResample draws per element and redraws where the drawn element equals the base's.
func (k *selectionKernel) mergeResample(b *Block) {
	for j := range b.Out {
		idx := b.Offset + j
		s := k.pick.pick(k.first.u(idx))
		base := b.Base[j]
		if b.Models[s][j] == base {
			s = k.redrawElement(b, j, idx)
		}
		if s == sourceBase {
			b.Out[j] = base
		} else {
			b.Out[j] = b.Models[s][j]
		}
		b.Source[j] = uint8(s)
	}
}

func (k *selectionKernel) redrawElement(b *Block, j, idx int) int {
	base := b.Base[j]
	if k.finite {
		for _, st := range k.redraw {
			s := k.pick.pick(st.u(idx))
			if b.Models[s][j] != base {
				return s
			}
		}
		return sourceBase
	}
	for m, x := range b.Models {
		k.elig[m] = x[j] != base
	}
	return k.drawAmong(k.elig, k.redraw[0].u(idx))
}

// drawAmong draws among the eligible models whose weight is positive, with probability
// proportional to weight: the first model m (in model order) whose cumulative share of the
// eligible weight exceeds u / 2^32. sourceBase when none is eligible.
func (k *selectionKernel) drawAmong(ok []bool, u32 uint64) int {
	var sum float64
	last := -1
	for m, w := range k.w {
		if w > 0 && ok[m] {
			sum += w
			last = m
		}
	}
	if last < 0 {
		return sourceBase
	}
	u := float64(u32) * 0x1p-32
	var acc float64
	for m, w := range k.w {
		if w > 0 && ok[m] {
			acc += w
			if u < acc/sum {
				return m
			}
		}
	}
	return last
}

// mergeUnits draws once per row or per tensor; with resample, a unit whose drawn model equals
// the base everywhere in that unit is redrawn among the models that differ there.
func (k *selectionKernel) mergeUnits(b *Block) {
	unit, s := -1, 0
	for j := range b.Out {
		if u := (b.Offset + j) / k.unitLen; u != unit {
			unit = u
			s = k.pick.pick(k.first.u(u))
			if k.resample && !k.differs[u*k.models+s] {
				s = k.redrawUnit(u)
			}
		}
		if s == sourceBase {
			b.Out[j] = b.Base[j]
		} else {
			b.Out[j] = b.Models[s][j]
		}
		b.Source[j] = uint8(s)
	}
}

func (k *selectionKernel) redrawUnit(u int) int {
	row := k.differs[u*k.models : (u+1)*k.models]
	if k.finite {
		for _, st := range k.redraw {
			if s := k.pick.pick(st.u(u)); row[s] {
				return s
			}
		}
		return sourceBase
	}
	return k.drawAmong(row, k.redraw[0].u(u))
}
