package merge

import (
	"github.com/ordermerge/ordermerge/tensor"
)

// sourceBase marks, in block.Source, an element for which a selecting method kept the base
// value (resampling found no model whose element differs from the base).
const sourceBase = 0xff

// blockElems is the number of elements processed at once: small enough for the decoded
// float32 buffers to stay in cache, and the unit in which statistics are summed, so sums do
// not depend on how a tensor is cut into chunks.
const blockElems = 1 << 16

// Block is a run of consecutive elements of one tensor, decoded to float32: what a Kernel
// sees. Its slices belong to the engine and are reused for the next block, so a kernel copies
// what it wants to keep. Base and Models are read-only: they may be views of the engine's read
// buffers, which later passes over the same tensor read again.
type Block struct {
	// Offset is the index of the block's first element in the tensor.
	Offset int
	// Base holds the base model's elements, or is nil when the merge has none.
	Base []float32
	// Models holds one slice per model present for this tensor, in model order.
	Models [][]float32
	// Out receives the merged elements (output pass only; nil in statistics passes).
	Out []float32
	// Source receives, for selecting methods, the index of the model each element was taken
	// from, or 255 for the base (output pass only).
	Source []uint8
}

// TensorInfo describes the tensor a kernel merges.
type TensorInfo struct {
	Name  string
	Shape []int
	Numel int
	// Models are the indices, in the merge's model list, of the models present for the
	// tensor (all of them unless some lack it and missing tensors are allowed).
	Models []int
	// HasBase says the merge has a base model and it has this tensor (Block.Base is set).
	HasBase bool
	// Seed is the merge's seed, for randomised methods.
	Seed uint64
	// Compute is the dtype the arithmetic is done in (the config's dtype; F32 unless set):
	// a kernel that emulates it rounds its intermediate results to it (RoundTo).
	Compute tensor.DType

	arena *arena // the merging worker's storage for the built-in kernels' state (nil outside one)
}

// Kernel merges one tensor. The engine feeds it the tensor's blocks in element order: first
// ScanPasses() statistics passes (Scan for every block, then EndScan), then the output pass
// (Merge for every block, which fills Block.Out). A kernel is used by one goroutine only, but
// kernels of different tensors run at the same time.
type Kernel interface {
	ScanPasses() int
	Scan(pass int, b *Block)
	EndScan(pass int)
	Merge(b *Block)
}

// Noter is implemented by kernels with something to say about a tensor (slerp's angle, model
// stock's ratio); the report shows it.
type Noter interface{ Note() string }

// Failer is implemented by kernels whose statistics can make a tensor impossible to merge
// (multislerp's antipodal inputs): the engine calls Err after every EndScan and stops the
// merge with the error it returns.
type Failer interface{ Err() error }

// NoScan is embedded by kernels that need no statistics pass.
type NoScan struct{}

// ScanPasses returns 0.
func (NoScan) ScanPasses() int { return 0 }

// Scan is never called.
func (NoScan) Scan(int, *Block) {}

// EndScan is never called.
func (NoScan) EndScan(pass int) {}

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
	// Selecting methods copy each element from one model and record which in Block.Source
	// (the report's "taken" shares).
	Selecting bool
	// Passes says how many statistics passes over each tensor the method makes before writing
	// it (0: element-wise; a tensor larger than the memory budget is re-read once per pass).
	Passes string
	Params []ParamSpec
}

// Method is one merge rule: every built-in method implements it, and so can a researcher's
// (see Registry).
type Method interface {
	// Info names and describes the method and declares its parameters.
	Info() MethodInfo
	// NewKernel validates the parameters resolved for one tensor and returns its kernel. It
	// runs for every tensor during validation, before any data is read, and again when the
	// tensor is merged, so it must be cheap: large state is allocated on first use.
	NewKernel(t TensorInfo, p *TensorParams) (Kernel, error)
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
func checkWeightsSum(p *TensorParams, name string, nonNegative bool) (float64, error) {
	var sum float64
	for k, w := range p.Models(name) {
		if nonNegative && w < 0 {
			return 0, p.modelErrorf(name, k, "must not be negative")
		}
		sum += w
	}
	return sum, nil
}
