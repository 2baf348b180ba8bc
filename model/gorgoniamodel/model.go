package gorgoniamodel

import (
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"math"

	G "gorgonia.org/gorgonia"
	gt "gorgonia.org/tensor"

	"github.com/ordermerge/ordermerge/sft"
)

// ParamSpec declares one trainable tensor of a gorgonia model.
type ParamSpec struct {
	// Name is the tensor's name in checkpoints (what merge/ matches variants by).
	Name string
	// Shape has one dimension (a vector), two (a matrix) or more.
	Shape []int
	// InitStd is the standard deviation of the normal initialisation; 0 initialises to zero.
	InitStd float64
	// NoDecay excludes the tensor from weight decay (biases, norms).
	NoDecay bool
}

// Inputs are the data nodes of the graph built for one batch shape. Positions are rows: row
// b*T+t is position t of sample b.
type Inputs struct {
	B, T, Vocab int
	// X is the one-hot encoding of the input tokens, (B*T, Vocab), padding tokens included;
	// the rows the adapter adds to round T up (positions >= the batch's own T) are zero.
	// X times an embedding matrix (Vocab, D) is an embedding lookup.
	X *G.Node
	// Y is the one-hot encoding of the targets, (B*T, Vocab); rows without loss are zero.
	Y *G.Node
	// Norm, (B, B*T), turns per-position losses into per-sample means: row b holds 1/n_b at
	// the n_b positions of sample b that carry loss, zero elsewhere.
	Norm *G.Node
}

// LossFunc builds in g the per-sample losses, a vector of B values, from the parameter nodes
// (in the order of Spec.Params) and the batch's inputs. CrossEntropy does the usual last step.
type LossFunc func(g *G.ExprGraph, params []*G.Node, in Inputs) (*G.Node, error)

// Spec describes a gorgonia model.
type Spec struct {
	// Vocab is the number of token ids.
	Vocab  int
	Params []ParamSpec
	Loss   LossFunc
}

// CrossEntropy returns each sample's mean cross-entropy over its loss positions, from logits
// of shape (B*T, Vocab): the per-sample losses compute.Model asks for.
func CrossEntropy(logits *G.Node, in Inputs) (*G.Node, error) {
	logp, err := G.LogSoftMax(logits)
	if err != nil {
		return nil, err
	}
	picked, err := G.HadamardProd(in.Y, logp)
	if err != nil {
		return nil, err
	}
	perPos, err := G.Sum(picked, 1)
	if err != nil {
		return nil, err
	}
	perPos, err = G.Neg(perPos)
	if err != nil {
		return nil, err
	}
	return G.Mul(in.Norm, perPos)
}

// Model is a gorgonia model behind the compute.Model interface. It is not safe for concurrent use.
type Model struct {
	spec   Spec
	params []*compute.Param
	graphs map[[2]int]*compiled
	dev    *cpu.Device
}

// compiled is the graph, machine and data tensors of one batch shape.
type compiled struct {
	g         *G.ExprGraph
	vm        G.VM
	params    []*G.Node
	paramVals []*gt.Dense
	x, y, nrm *gt.Dense
	w         *gt.Dense
	losses    *G.Node
}

// padMultiple rounds T up so few distinct batch shapes (and graphs) are compiled; the extra
// positions are padding without loss, which changes no sample's loss.
const padMultiple = 8

// New checks spec and returns a model whose parameters are drawn from seed with the project's
// generator: tensor i from its own stream, so adding a tensor never changes the others.
func New(spec Spec, seed uint64) (*Model, error) {
	m, err := newShapes(spec)
	if err != nil {
		return nil, err
	}
	for i, ps := range spec.Params {
		if ps.InitStd == 0 {
			continue
		}
		rng := sft.NewRNG(sft.DeriveSeed(seed, uint64(i)))
		data := cpu.F32(m.params[i].Value)
		for j := range data {
			data[j] = float32(rng.NormFloat64() * ps.InitStd)
		}
	}
	return m, nil
}

func newShapes(spec Spec) (*Model, error) {
	if spec.Vocab <= 0 {
		return nil, fmt.Errorf("gorgonia model: vocab must be positive, got %d", spec.Vocab)
	}
	if spec.Loss == nil || len(spec.Params) == 0 {
		return nil, fmt.Errorf("gorgonia model: a spec needs parameters and a loss function")
	}
	// gorgonia computes on the host: the parameters are host memory, wrapped for the trainer
	// (which keeps the optimizer state on the same CPU device).
	m := &Model{spec: spec, graphs: map[[2]int]*compiled{}, dev: cpu.NewDevice(cpu.NewGoBackend(1))}
	seen := map[string]bool{}
	for _, ps := range spec.Params {
		n := 1
		for _, d := range ps.Shape {
			if d <= 0 {
				return nil, fmt.Errorf("gorgonia model: parameter %q has shape %v", ps.Name, ps.Shape)
			}
			n *= d
		}
		if ps.Name == "" || seen[ps.Name] || len(ps.Shape) == 0 || math.IsNaN(ps.InitStd) {
			return nil, fmt.Errorf("gorgonia model: parameter %q (shape %v): names must be unique and non-empty, shapes non-empty", ps.Name, ps.Shape)
		}
		seen[ps.Name] = true
		m.params = append(m.params, &compute.Param{Name: ps.Name, Shape: append([]int(nil), ps.Shape...), Value: m.dev.Wrap(make([]float32, n)), Grad: m.dev.Wrap(make([]float32, n)), NoDecay: ps.NoDecay})
	}
	return m, nil
}

// Device implements compute.Model: the CPU.
func (m *Model) Device() compute.Device { return m.dev }

// Params implements compute.Model.
func (m *Model) Params() []*compute.Param { return m.params }

// Clone implements compute.Model: same spec and values, its own graphs.
func (m *Model) Clone() (compute.Model, error) {
	c, err := newShapes(m.spec)
	if err != nil {
		return nil, err
	}
	for i, p := range m.params {
		copy(cpu.F32(c.params[i].Value), cpu.F32(p.Value))
	}
	return c, nil
}

// Loss implements compute.Model.
func (m *Model) Loss(b *compute.Batch) ([]float32, error) { return m.run(b, nil) }

// ForwardBackward implements compute.Model.
func (m *Model) ForwardBackward(b *compute.Batch, weights []float32) ([]float32, error) {
	if len(weights) != b.B {
		return nil, fmt.Errorf("gorgonia model: %d weights for a batch of %d", len(weights), b.B)
	}
	return m.run(b, weights)
}

func (m *Model) run(b *compute.Batch, weights []float32) (losses []float32, err error) {
	// gorgonia reports some shape errors by panicking; none may escape this API.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gorgonia model: %v", r)
		}
	}()
	if b.B <= 0 || b.T <= 0 || len(b.Inputs) != b.B*b.T || len(b.Targets) != b.B*b.T {
		return nil, fmt.Errorf("gorgonia model: batch %dx%d with %d inputs and %d targets", b.B, b.T, len(b.Inputs), len(b.Targets))
	}
	T := (b.T + padMultiple - 1) / padMultiple * padMultiple
	c, err := m.graph(b.B, T)
	if err != nil {
		return nil, err
	}
	if err := m.fill(c, b, T, weights); err != nil {
		return nil, err
	}
	defer c.vm.Reset()
	if err := c.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("gorgonia model: running the graph: %w", err)
	}
	out, ok := c.losses.Value().Data().([]float32)
	if !ok || len(out) != b.B {
		return nil, fmt.Errorf("gorgonia model: the loss function returned shape %v, want a vector of %d", c.losses.Shape(), b.B)
	}
	losses = append([]float32(nil), out...)
	if weights == nil {
		return losses, nil
	}
	for i, n := range c.params {
		gv, err := n.Grad()
		if err != nil {
			return nil, fmt.Errorf("gorgonia model: gradient of %q: %w", m.params[i].Name, err)
		}
		g, ok := gv.Data().([]float32)
		if !ok || len(g) != m.params[i].Grad.Len() {
			return nil, fmt.Errorf("gorgonia model: gradient of %q has the wrong type or size", m.params[i].Name)
		}
		dst := cpu.F32(m.params[i].Grad)
		for j, v := range g {
			dst[j] += v
		}
	}
	return losses, nil
}

// fill copies the parameters and the batch into the graph's tensors.
func (m *Model) fill(c *compiled, b *compute.Batch, T int, weights []float32) error {
	for i, p := range m.params {
		copy(c.paramVals[i].Data().([]float32), cpu.F32(p.Value))
	}
	V := m.spec.Vocab
	x, y, nrm := c.x.Data().([]float32), c.y.Data().([]float32), c.nrm.Data().([]float32)
	clear(x)
	clear(y)
	clear(nrm)
	for s := 0; s < b.B; s++ {
		n := 0
		for t := 0; t < b.T; t++ {
			if b.Targets[s*b.T+t] >= 0 {
				n++
			}
		}
		for t := 0; t < b.T; t++ {
			in, tg := b.Inputs[s*b.T+t], b.Targets[s*b.T+t]
			row := s*T + t
			if in < 0 || int(in) >= V || int(tg) >= V {
				return fmt.Errorf("gorgonia model: sample %d position %d: token %d or target %d outside the vocabulary of %d", s, t, in, tg, V)
			}
			// Every input is visible (prompt tokens are context for later positions); only
			// positions with a target carry loss.
			x[row*V+int(in)] = 1
			if tg >= 0 {
				y[row*V+int(tg)] = 1
				nrm[s*b.B*T+row] = 1 / float32(n)
			}
		}
	}
	w := c.w.Data().([]float32)
	for i := range w {
		w[i] = 0
		if weights != nil {
			w[i] = weights[i]
		}
	}
	return nil
}

// graph returns the compiled graph for a batch shape, building it on first use.
func (m *Model) graph(B, T int) (*compiled, error) {
	key := [2]int{B, T}
	if c, ok := m.graphs[key]; ok {
		return c, nil
	}
	V := m.spec.Vocab
	g := G.NewGraph()
	c := &compiled{g: g}
	dense := func(shape ...int) *gt.Dense {
		n := 1
		for _, d := range shape {
			n *= d
		}
		return gt.New(gt.WithShape(shape...), gt.WithBacking(make([]float32, n)))
	}
	for _, p := range m.params {
		v := dense(p.Shape...)
		c.paramVals = append(c.paramVals, v)
		c.params = append(c.params, G.NewTensor(g, gt.Float32, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(v)))
	}
	c.x, c.y, c.nrm, c.w = dense(B*T, V), dense(B*T, V), dense(B, B*T), dense(B)
	in := Inputs{
		B: B, T: T, Vocab: V,
		X:    G.NewMatrix(g, gt.Float32, G.WithShape(B*T, V), G.WithName("inputs"), G.WithValue(c.x)),
		Y:    G.NewMatrix(g, gt.Float32, G.WithShape(B*T, V), G.WithName("targets"), G.WithValue(c.y)),
		Norm: G.NewMatrix(g, gt.Float32, G.WithShape(B, B*T), G.WithName("norm"), G.WithValue(c.nrm)),
	}
	weights := G.NewVector(g, gt.Float32, G.WithShape(B), G.WithName("weights"), G.WithValue(c.w))
	losses, err := m.spec.Loss(g, c.params, in)
	if err != nil {
		return nil, fmt.Errorf("gorgonia model: building the graph for a %dx%d batch: %w", B, T, err)
	}
	if !losses.Shape().Eq(gt.Shape{B}) {
		return nil, fmt.Errorf("gorgonia model: the loss function returned shape %v, want a vector of %d", losses.Shape(), B)
	}
	weighted, err := G.HadamardProd(losses, weights)
	if err != nil {
		return nil, err
	}
	total, err := G.Sum(weighted)
	if err != nil {
		return nil, err
	}
	if _, err := G.Grad(total, c.params...); err != nil {
		return nil, fmt.Errorf("gorgonia model: differentiating the loss: %w", err)
	}
	c.losses = losses
	c.vm = G.NewTapeMachine(g, G.BindDualValues(c.params...))
	m.graphs[key] = c
	return c, nil
}
