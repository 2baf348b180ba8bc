package merge

import (
	"fmt"
	"sort"
	"strings"
)

// sourceBase marks, in block.Source, an element for which a selecting method kept the base
// value (resampling found no model whose element differs from the base).
const sourceBase = 0xff

// blockElems is the number of elements processed at once: small enough for the decoded
// float32 buffers to stay in cache, and the unit in which statistics are summed, so sums do
// not depend on how a tensor is cut into chunks.
const blockElems = 1 << 16

// block is a run of consecutive elements of one tensor, decoded to float32.
type block struct {
	// Offset is the index of the block's first element in the tensor.
	Offset int
	// Base holds the base model's elements, or is nil when the merge has none.
	Base []float32
	// Models holds one slice per model present for this tensor, in model order.
	Models [][]float32
	// Out receives the merged elements (output pass only).
	Out []float32
	// Source receives, for selecting methods, the index of the model each element was taken
	// from, or sourceBase.
	Source []uint8
}

// tensorInfo describes the tensor a kernel merges.
type tensorInfo struct {
	Name  string
	Shape []int
	Numel int
	// Models are the indices, in the merge's model list, of the models present for the
	// tensor (all of them unless some lack it and missing tensors are allowed).
	Models []int
	Seed   uint64
}

// kernel merges one tensor. The engine feeds it the tensor's blocks in element order: first
// ScanPasses() statistics passes (Scan for every block, then EndScan), then the output pass
// (Merge for every block). A kernel is used by one goroutine only.
type kernel interface {
	ScanPasses() int
	Scan(pass int, b *block)
	EndScan(pass int)
	Merge(b *block)
}

// noter is implemented by kernels with something to say about a tensor (slerp's angle, model
// stock's ratio); the report shows it.
type noter interface{ note() string }

// noScan is embedded by kernels that need no statistics pass.
type noScan struct{}

func (noScan) ScanPasses() int  { return 0 }
func (noScan) Scan(int, *block) {}
func (noScan) EndScan(pass int) {}

// MethodInfo describes a merge method.
type MethodInfo struct {
	Name    string
	Summary string
	// NeedsBase methods work on task vectors. The others use a base when given one: slerp
	// as its first endpoint, parameter selection for resampling, all for the report's
	// base statistics.
	NeedsBase bool
	MinModels int
	// MaxModels is 0 for no limit.
	MaxModels int
	// Endpoints, when set, is the number of models plus the base the method needs exactly.
	Endpoints int
	// Randomised methods take a seed.
	Randomised bool
	// Selecting methods copy each element from one model and record which (the report's
	// "taken" shares).
	Selecting bool
	// Passes says how many statistics passes over each tensor the method makes before writing
	// it (0: element-wise; a tensor larger than the memory budget is re-read once per pass).
	Passes string
	Params []ParamSpec
}

// method is one merge rule, behind the one interface every method implements.
type method interface {
	Info() MethodInfo
	// newKernel validates the parameters resolved for one tensor and returns its kernel. It
	// runs for every tensor during validation, before any data is read, and again when the
	// tensor is merged, so it must be cheap: large state is allocated on first use.
	newKernel(t tensorInfo, p *tensorParams, hasBase bool) (kernel, error)
}

// registry maps the mergekit method names to the methods. It is never modified.
var registry = map[string]method{
	"linear":              linear{},
	"parameter_selection": selection{},
	"task_arithmetic":     taskArithmetic{},
	"ties":                ties{},
	"dare_linear":         dareLinear{},
	"dare_ties":           dareTies{},
	"slerp":               slerp{},
	"model_stock":         modelStock{},
	"passthrough":         passthrough{},
}

// Methods lists the merge methods, sorted by name.
func Methods() []MethodInfo {
	out := make([]MethodInfo, 0, len(registry))
	for _, m := range registry {
		out = append(out, m.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupMethod returns the description of the named method.
func LookupMethod(name string) (MethodInfo, bool) {
	m, ok := registry[name]
	if !ok {
		return MethodInfo{}, false
	}
	return m.Info(), true
}

func lookupMethod(name string) (method, error) {
	m, ok := registry[name]
	if !ok {
		names := make([]string, 0, len(registry))
		for n := range registry {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown merge method %q (known: %s)", name, strings.Join(names, ", "))
	}
	return m, nil
}

func (mi MethodInfo) spec(name string) (ParamSpec, bool) {
	for _, s := range mi.Params {
		if s.Name == name {
			return s, true
		}
	}
	return ParamSpec{}, false
}

// Common parameter declarations, shared by several methods.
var (
	weightParam = func(doc string) ParamSpec {
		return ParamSpec{Name: "weight", PerModel: true, Kind: FloatParam, Default: 1, Doc: doc}
	}
	densityParam = func(doc string) ParamSpec {
		return ParamSpec{Name: "density", PerModel: true, Kind: FloatParam, Default: 1, Doc: doc}
	}
	normalizeParam = func(def bool, doc string) ParamSpec {
		d := 0.0
		if def {
			d = 1
		}
		return ParamSpec{Name: "normalize", Kind: BoolParam, Default: d, Doc: doc}
	}
	lambdaParam = ParamSpec{Name: "lambda", Kind: FloatParam, Default: 1, Doc: "scale of the merged task vector"}
	// int8Mask is accepted so mergekit configs load unchanged; it selects a memory saving in
	// mergekit and has no effect here.
	int8MaskParam = ParamSpec{Name: "int8_mask", Kind: BoolParam, Fixed: true, Doc: "accepted for mergekit compatibility; no effect"}
)

// checkWeightsSum returns the sum of a per-model weight parameter, rejecting negative values
// when nonNegative (probabilities).
func checkWeightsSum(p *tensorParams, name string, nonNegative bool) (float64, error) {
	var sum float64
	for k, w := range p.Models(name) {
		if nonNegative && w < 0 {
			return 0, p.modelErrorf(name, k, "must not be negative")
		}
		sum += w
	}
	return sum, nil
}
