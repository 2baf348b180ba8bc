package merge

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/ordermerge/ordermerge/tensor"
)

// source is one input model: a checkpoint on disk or an in-memory model.
type source interface {
	names() []string
	entry(name string) (tensor.Entry, bool)
	// readAt reads len(dst) bytes of the named tensor's data starting at byte off.
	readAt(name string, dst []byte, off int64) error
}

// checkpointSource reads tensors from an open checkpoint, chunk by chunk.
type checkpointSource struct {
	label string
	ckpt  *tensor.Checkpoint
}

func (c checkpointSource) names() []string { return c.ckpt.Names() }

func (c checkpointSource) entry(name string) (tensor.Entry, bool) { return c.ckpt.Entry(name) }

func (c checkpointSource) readAt(name string, dst []byte, off int64) error {
	r, ok := c.ckpt.Reader(name)
	if !ok {
		return fmt.Errorf("%s: no tensor %q", c.label, name)
	}
	sec, err := r.Section(name)
	if err != nil {
		return err
	}
	if _, err := sec.ReadAt(dst, off); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%s: reading tensor %q: %w", r.Path(), name, err)
	}
	return nil
}

// mappedSource is a source whose tensors can be read in place, from a memory map of their file
// (see tensor.Reader.MappedData): statistics passes then re-read them without copies, and
// float32 inputs are never copied at all.
type mappedSource interface {
	// mapped returns the named tensor's bytes, read-only, and the function that gives the
	// resident pages of a part of them back (tensor.Reader.ReleaseMapped), or false when they
	// are not mapped.
	mapped(name string) (data []byte, release func([]byte), ok bool)
}

func (c checkpointSource) mapped(name string) ([]byte, func([]byte), bool) {
	r, ok := c.ckpt.Reader(name)
	if !ok {
		return nil, nil, false
	}
	b, ok := r.MappedData(name)
	return b, r.ReleaseMapped, ok
}

// memorySource serves an in-memory model.
type memorySource struct {
	label string
	m     Model
	order []string
}

func newMemorySource(label string, m Model) (*memorySource, error) {
	s := &memorySource{label: label, m: m}
	for name, t := range m {
		if t == nil {
			return nil, fmt.Errorf("%s: tensor %q is nil", label, name)
		}
		if t.Name != "" && t.Name != name {
			return nil, fmt.Errorf("%s: tensor stored under %q is named %q", label, name, t.Name)
		}
		size, err := tensor.ByteSize(t.DType, t.Shape)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", label, name, err)
		}
		if int64(len(t.Data)) != size {
			return nil, fmt.Errorf("%s: tensor %q is %s %s (%d bytes) but holds %d bytes", label, name, t.DType, tensor.FormatShape(t.Shape), size, len(t.Data))
		}
		s.order = append(s.order, name)
	}
	sort.Strings(s.order)
	return s, nil
}

func (s *memorySource) names() []string { return s.order }

func (s *memorySource) entry(name string) (tensor.Entry, bool) {
	t, ok := s.m[name]
	if !ok {
		return tensor.Entry{}, false
	}
	return tensor.Entry{Name: name, DType: t.DType, Shape: t.Shape, Size: int64(len(t.Data))}, true
}

func (s *memorySource) readAt(name string, dst []byte, off int64) error {
	t, ok := s.m[name]
	if !ok || off < 0 || off+int64(len(dst)) > int64(len(t.Data)) {
		return fmt.Errorf("%s: tensor %q: read outside its data", s.label, name)
	}
	copy(dst, t.Data[off:])
	return nil
}

// tensorKind says how a tensor is produced.
type tensorKind int

const (
	kindMerge   tensorKind = iota // merged by the method
	kindCopy                      // float tensor copied (converted to the output dtype) from one input
	kindCopyRaw                   // non-float tensor copied byte for byte
)

// tensorPlan is everything decided about one output tensor before any data is read.
type tensorPlan struct {
	name     string
	shape    []int
	numel    int
	kind     tensorKind
	outDType tensor.DType
	// present lists the models (indices into plan.models) that have the tensor; inDType their
	// dtypes, in the same order.
	present []int
	inDType []tensor.DType
	// hasBase says the base has the tensor and takes part; baseDType is its dtype.
	hasBase   bool
	baseDType tensor.DType
	// copyFrom is the model index a copied tensor comes from, or -1 for the base.
	copyFrom int
	params   *TensorParams
	info     TensorInfo
	missing  []int // models lacking the tensor
	note     string
}

// plan is a validated merge: nothing more can go wrong with the inputs' layout, names, shapes,
// dtypes or parameters; only reading data (I/O errors, non-finite values) may still fail.
type plan struct {
	method   Method
	compute  tensor.DType // the config's dtype: what kernels compute in (Invalid: the inputs')
	info     MethodInfo
	base     source // nil without a base
	models   []source
	labels   []string
	baseName string
	seed     uint64
	tensors  []*tensorPlan
}

// planInput gathers what buildPlan needs.
type planInput struct {
	method       string
	base         source
	baseLabel    string
	models       []source
	labels       []string
	settings     settings
	seed         uint64
	outDType     tensor.DType // Invalid: keep the reference tensor's dtype
	allowMissing bool
	numLayers    int          // 0: derive from the tensor names
	registry     *Registry    // nil: the built-in methods
	compute      tensor.DType // Invalid: the inputs' dtype when they agree, else F32
	legacyT      bool
	// With slices, models are (slice, source) pairs, each a view that names its tensors as
	// in the output. order lists the output tensors; owners[name] the pairs that feed each
	// one (the sources of its slice); t[name] its position for layer gradients.
	sliced bool
	order  []string
	owners map[string][]int
	t      map[string]float64
}

// maxListed is how many mismatches an error lists by name.
const maxListed = 5

func buildPlan(in planInput) (*plan, error) {
	m, err := lookupMethod(in.registry, in.method)
	if err != nil {
		return nil, err
	}
	info := m.Info()
	k := len(in.models)
	if in.sliced {
		k = 0 // counted per tensor: each has the sources of its slice
		for _, o := range in.owners {
			k = max(k, len(o))
		}
	}
	switch {
	case k == 0:
		return nil, fmt.Errorf("%s: no models to merge", info.Name)
	case k < info.MinModels:
		return nil, fmt.Errorf("%s needs at least %d models, got %d", info.Name, info.MinModels, k)
	case info.MaxModels > 0 && k > info.MaxModels:
		return nil, fmt.Errorf("%s takes at most %d models, got %d", info.Name, info.MaxModels, k)
	case info.NeedsBase && in.base == nil:
		return nil, fmt.Errorf("%s needs a base model (base_model / --base)", info.Name)
	}
	if info.Endpoints > 0 && !in.sliced {
		n := k
		if in.base != nil {
			n++
		}
		if n != info.Endpoints {
			return nil, fmt.Errorf("%s needs exactly %d endpoints (models plus base), got %d", info.Name, info.Endpoints, n)
		}
	}
	if err := checkRequired(info, in.settings); err != nil {
		return nil, err
	}
	p := &plan{method: m, info: info, base: in.base, models: in.models, labels: in.labels, baseName: in.baseLabel, seed: in.seed, compute: in.compute}

	// Output order: the reference model's (base, else first model) file order, then any name
	// only other models have, in model order.
	ref := in.models[0]
	if in.base != nil {
		ref = in.base
	}
	order := in.order
	seen := map[string]bool{}
	add := func(s source) {
		for _, n := range s.names() {
			if !seen[n] {
				seen[n] = true
				order = append(order, n)
			}
		}
	}
	if !in.sliced {
		add(ref)
		if in.base != nil {
			add(in.models[0])
		}
		for _, s := range in.models[1:] {
			add(s)
		}
	}
	numLayers := in.numLayers
	if numLayers <= 0 {
		for _, n := range order {
			numLayers = max(numLayers, layerIndex(n)+1)
		}
	}

	var missing, shapes, dtypes []string
	for _, name := range order {
		tp, problem := p.planTensor(name, in)
		switch problem.kind {
		case problemMissing:
			missing = append(missing, problem.msg)
			continue
		case problemShape:
			shapes = append(shapes, problem.msg)
			continue
		case problemDType:
			dtypes = append(dtypes, problem.msg)
			continue
		}
		p.tensors = append(p.tensors, tp)
	}
	if len(missing) > 0 {
		return nil, listError(fmt.Sprintf("%d tensors are not in every model (allow missing tensors to merge them anyway)", len(missing)), missing)
	}
	if len(shapes) > 0 {
		return nil, listError(fmt.Sprintf("shapes differ in %d tensors", len(shapes)), shapes)
	}
	if len(dtypes) > 0 {
		return nil, listError(fmt.Sprintf("dtypes are incompatible in %d tensors", len(dtypes)), dtypes)
	}
	// Parameters, per tensor, before any data is read.
	for _, tp := range p.tensors {
		if in.sliced {
			if err := p.checkSliceCounts(tp); err != nil {
				return nil, err
			}
		}
		t, ok := in.t[tp.name]
		if !ok {
			t = layerT(tp.name, numLayers, in.legacyT)
		}
		if err := p.prepare(tp, in.settings, t); err != nil {
			return nil, fmt.Errorf("tensor %s: %w", tp.name, err)
		}
	}
	return p, nil
}

func listError(head string, items []string) error {
	shown := items
	if len(shown) > maxListed {
		shown = shown[:maxListed]
	}
	msg := head + ": " + strings.Join(shown, "; ")
	if len(items) > len(shown) {
		msg += fmt.Sprintf("; and %d more", len(items)-len(shown))
	}
	return errors.New(msg)
}

type problemKind int

const (
	problemNone problemKind = iota
	problemMissing
	problemShape
	problemDType
)

type problem struct {
	kind problemKind
	msg  string
}

// planTensor checks one name across the inputs and fills in everything but the parameters.
func (p *plan) planTensor(name string, in planInput) (*tensorPlan, problem) {
	tp := &tensorPlan{name: name, copyFrom: -1}
	type seenEntry struct {
		label string
		e     tensor.Entry
	}
	var entries []seenEntry
	var lacking []string
	if in.base != nil {
		if e, ok := in.base.entry(name); ok {
			tp.hasBase, tp.baseDType = true, e.DType
			entries = append(entries, seenEntry{in.baseLabel, e})
		} else {
			lacking = append(lacking, in.baseLabel)
		}
	}
	for i, s := range in.models {
		if in.sliced && !slices.Contains(in.owners[name], i) {
			continue
		}
		if e, ok := s.entry(name); ok {
			tp.present = append(tp.present, i)
			tp.inDType = append(tp.inDType, e.DType)
			entries = append(entries, seenEntry{in.labels[i], e})
		} else {
			tp.missing = append(tp.missing, i)
			lacking = append(lacking, in.labels[i])
		}
	}
	if len(entries) == 0 {
		return nil, problem{problemMissing, fmt.Sprintf("%s is in none of its inputs", name)}
	}
	if len(lacking) > 0 && !in.allowMissing {
		return nil, problem{problemMissing, fmt.Sprintf("%s missing from %s (present in %s)", name, strings.Join(lacking, ", "), entries[0].label)}
	}
	first := entries[0]
	shape := first.e.Shape
	shapes := make([][]int, len(entries))
	for i, e := range entries {
		shapes[i] = e.e.Shape
	}
	rows, cut := commonRows(name, shapes)
	if cut {
		// Vocabularies of different sizes (a fine-tune that added tokens): the rows every
		// model has, mergekit's largest common submatrix. They are each tensor's first rows,
		// so every input is read from its start as usual.
		shape = append([]int{rows}, shape[1:]...)
		tp.note = fmt.Sprintf("vocabularies differ: the first %d rows, which every model has", rows)
	}
	for _, e := range entries[1:] {
		if !cut && !slices.Equal(e.e.Shape, first.e.Shape) {
			return nil, problem{problemShape, fmt.Sprintf("%s is %s in %s but %s in %s", name,
				tensor.FormatShape(first.e.Shape), first.label, tensor.FormatShape(e.e.Shape), e.label)}
		}
		if e.e.DType.IsFloat() != first.e.DType.IsFloat() || (!first.e.DType.IsFloat() && e.e.DType != first.e.DType) {
			return nil, problem{problemDType, fmt.Sprintf("%s is %s in %s but %s in %s", name, first.e.DType, first.label, e.e.DType, e.label)}
		}
	}
	tp.shape = append([]int(nil), shape...)
	tp.numel, _ = tensor.Numel(tp.shape) // valid: the reader checked it
	ref := first.e.DType
	switch {
	case !ref.IsFloat():
		tp.kind, tp.outDType = kindCopyRaw, ref
		if !tp.hasBase {
			tp.copyFrom = tp.present[0]
		}
		tp.note = fmt.Sprintf("%s tensor copied from %s", ref, first.label)
	case in.outDType != tensor.Invalid:
		tp.outDType = in.outDType
	default:
		tp.outDType = ref
	}
	return tp, problem{}
}

// prepare resolves the method's parameters for the tensor and checks them by building its
// kernel. A tensor some inputs lack is merged over the others when the method can do that
// (enough models, the base if needed), and copied otherwise.
func (p *plan) prepare(tp *tensorPlan, s settings, t float64) error {
	if tp.kind == kindCopyRaw {
		return nil
	}
	params, err := s.resolve(p.info.Params, tp.name, t, tp.present)
	if err != nil {
		return err
	}
	tp.params = params
	tp.info = TensorInfo{Name: tp.name, Shape: tp.shape, Numel: tp.numel, Models: tp.present, HasBase: tp.hasBase, Seed: p.seed, Compute: tp.compute(p.compute)}
	partial := len(tp.missing) > 0 || (p.base != nil && !tp.hasBase)
	if partial && !p.canMerge(tp) {
		tp.kind = kindCopy
		if !tp.hasBase {
			tp.copyFrom = tp.present[0]
		}
		from := p.baseName
		if tp.copyFrom >= 0 {
			from = p.labels[tp.copyFrom]
		}
		tp.note = "not in every input: copied from " + from
		return nil
	}
	if _, err := p.method.NewKernel(tp.info, params); err != nil {
		return err
	}
	if partial {
		tp.note = fmt.Sprintf("merged over the %d inputs that have it", len(tp.present)+boolInt(tp.hasBase))
	}
	return nil
}

// compute is the tensor's compute dtype given the merge's (see tensorCompute).
func (tp *tensorPlan) compute(set tensor.DType) tensor.DType {
	in := append([]tensor.DType(nil), tp.inDType...)
	if tp.hasBase {
		in = append(in, tp.baseDType)
	}
	return tensorCompute(set, in)
}

// checkSliceCounts checks, for a tensor of a slice, that the slice's sources suit the method.
func (p *plan) checkSliceCounts(tp *tensorPlan) error {
	if tp.kind == kindCopyRaw {
		return nil
	}
	n, info := len(tp.present), p.info
	switch {
	case n < info.MinModels:
		return fmt.Errorf("tensor %s: %s needs at least %d models besides the base, its slice has %d", tp.name, info.Name, info.MinModels, n)
	case info.MaxModels > 0 && n > info.MaxModels:
		return fmt.Errorf("tensor %s: %s takes at most %d models, its slice has %d", tp.name, info.Name, info.MaxModels, n)
	case info.NeedsBase && !tp.hasBase:
		return fmt.Errorf("tensor %s: %s needs the base model among its slice's sources", tp.name, info.Name)
	case info.Endpoints > 0 && n+boolInt(tp.hasBase) != info.Endpoints:
		return fmt.Errorf("tensor %s: %s needs exactly %d sources (models plus base) in its slice, got %d", tp.name, info.Name, info.Endpoints, n+boolInt(tp.hasBase))
	}
	return nil
}

// isEmbedding says a tensor is indexed by token: its rows follow the vocabulary.
func isEmbedding(name string) bool {
	for _, suffix := range []string{"embed_tokens.weight", "lm_head.weight", "wte.weight", "embed_in.weight", "embed_out.weight"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// commonRows returns, for an embedding whose inputs have different numbers of rows but the
// same other dimensions, the number of rows they all have.
func commonRows(name string, shapes [][]int) (int, bool) {
	if !isEmbedding(name) || len(shapes[0]) == 0 {
		return 0, false
	}
	rows, differ := shapes[0][0], false
	for _, s := range shapes[1:] {
		if len(s) != len(shapes[0]) || !slices.Equal(s[1:], shapes[0][1:]) {
			return 0, false
		}
		differ = differ || s[0] != rows
		rows = min(rows, s[0])
	}
	return rows, differ
}

func (p *plan) canMerge(tp *tensorPlan) bool {
	n := len(tp.present)
	switch {
	case n == 0, n < p.info.MinModels:
		return false
	case p.info.NeedsBase && !tp.hasBase:
		return false
	case p.info.Endpoints > 0 && n+boolInt(tp.hasBase) != p.info.Endpoints:
		return false
	case p.info.Name == "parameter_selection" && tp.params.Bool("resample") && !tp.hasBase:
		return false
	}
	return true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkRequired rejects a merge that leaves a required parameter unset everywhere.
func checkRequired(info MethodInfo, s settings) error {
	for _, sp := range info.Params {
		if !sp.Required {
			continue
		}
		if _, ok := s.global[sp.Name]; ok {
			continue
		}
		if sp.PerModel {
			all := len(s.model) > 0
			for _, m := range s.model {
				if _, ok := m[sp.Name]; !ok {
					all = false
				}
			}
			if all {
				continue
			}
		}
		return fmt.Errorf("%s needs parameter %s (%s)", info.Name, sp.Name, sp.Doc)
	}
	return nil
}

// kernel builds the tensor's kernel for the run (validated already by prepare).
func (p *plan) kernel(tp *tensorPlan, a *arena) (Kernel, error) {
	if tp.kind == kindCopy {
		return copyKernel{}, nil
	}
	info := tp.info
	info.arena = a
	return p.method.NewKernel(info, tp.params)
}

// copyKernel passes one input through (the base if present, else the only model given).
type copyKernel struct{ NoScan }

func (copyKernel) Merge(b *Block) {
	if b.Base != nil {
		copy(b.Out, b.Base)
		return
	}
	copy(b.Out, b.Models[0])
}
