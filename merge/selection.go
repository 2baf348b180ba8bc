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
			{Name: "resample", Kind: Bool, Fixed: true, Doc: "redraw where the drawn model's element equals the base's (needs a base)"},
			{Name: "resample_n", Kind: Int, Fixed: true, Doc: "0: redraw once among the models that differ from the base (keep the base only when none does); n > 0: redraw up to n times among all models"},
			{Name: "granularity", Kind: Choice, Fixed: true, DefaultChoice: granElement, Choices: []string{granElement, granRow, granTensor},
				Doc: "unit drawn at once: element (the paper), row (slice along the first dimension; a 1-D tensor is one row) or tensor"},
		},
	}
}

func (selection) Kernel(t TensorInfo, p *Params, hasBase bool) (Kernel, error) {
	w := p.Models("weight")
	sum, err := checkWeightsSum(p, "weight", true)
	if err != nil {
		return nil, err
	}
	if sum <= 0 {
		return nil, p.modelErrorf("weight", 0, "the selection weights must not all be 0")
	}
	resample := p.Bool("resample")
	if resample && !hasBase {
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
	elig    []bool // scratch: which models differ from the base at the current element
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
	case k.resample:
		k.mergeResample(b)
	default:
		for j := range b.Out {
			s := k.pick.pick(k.first.u53(b.Offset + j))
			b.Out[j] = b.Models[s][j]
			b.Source[j] = uint8(s)
		}
	}
}

// mergeResample draws per element and redraws where the drawn element equals the base's.
func (k *selectionKernel) mergeResample(b *Block) {
	for j := range b.Out {
		idx := b.Offset + j
		s := k.pick.pick(k.first.u53(idx))
		base := b.Base[j]
		if b.Models[s][j] == base {
			s = k.redrawElement(b, j, idx)
		}
		if s == SourceBase {
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
			s := k.pick.pick(st.u53(idx))
			if b.Models[s][j] != base {
				return s
			}
		}
		return SourceBase
	}
	for m, x := range b.Models {
		k.elig[m] = x[j] != base
	}
	return k.drawAmong(k.elig, k.redraw[0].u53(idx))
}

// drawAmong draws among the eligible models whose weight is positive, with probability
// proportional to weight: the first model m (in model order) whose cumulative share of the
// eligible weight exceeds u53 * 2^-53. SourceBase when none is eligible.
func (k *selectionKernel) drawAmong(ok []bool, u53 uint64) int {
	var sum float64
	last := -1
	for m, w := range k.w {
		if w > 0 && ok[m] {
			sum += w
			last = m
		}
	}
	if last < 0 {
		return SourceBase
	}
	u := float64(u53) * 0x1p-53
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
			s = k.pick.pick(k.first.u53(u))
			if k.resample && !k.differs[u*k.models+s] {
				s = k.redrawUnit(u)
			}
		}
		if s == SourceBase {
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
			if s := k.pick.pick(st.u53(u)); row[s] {
				return s
			}
		}
		return SourceBase
	}
	return k.drawAmong(row, k.redraw[0].u53(u))
}
