package llama

import (
	"encoding/json"
	"fmt"
	"hash/fnv"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"github.com/ordermerge/ordermerge/internal/parallel"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"github.com/ordermerge/ordermerge/tensor"
)

// Options configure a Model's compute.
type Options struct {
	// Device holds the parameters and runs the model. Nil means a CPU device with the default
	// backend (OpenBLAS when built with cgo, pure Go otherwise, one thread per core).
	Device compute.Device
	// Precision of the matrix products: f32 (the default), tf32 (CUDA only) or bf16 mixed
	// precision (compute.Precision).
	Precision compute.Precision
}

// Model is a Llama decoder with its parameters, gradients and activations, all in the memory
// of its device.
type Model struct {
	cfg  *tensor.Config
	arch arch
	dev  compute.Device
	prec compute.Precision
	rope compute.RoPETable

	// All parameters live in one buffer (and gradients in another), in Params order, so the
	// q, k and v projections of a layer are one stacked matrix for a single matrix product,
	// and so are gate and up. At bf16 precision prod holds the weights rounded to bfloat16
	// for the products, refreshed from data before every pass (as autocast does).
	data, grad, prod compute.Buf
	params           []*compute.Param
	embed            view
	layers           []layerView
	norm             view
	head             view // the embedding when tied

	acts acts
	inf  infer
}

// view is a parameter's values, gradient and product-precision copy (the values themselves
// at f32).
type view struct{ w, g, p compute.Buf }

type layerView struct {
	inNorm, qkv, o, postNorm, gateUp, down view
	// Only in some families: the stacked q, k, v biases, o_proj's bias, Qwen3's q/k norms.
	qkvBias, oBias, qNorm, kNorm view
}

// Dims of a config that the model code uses everywhere.
type dims struct {
	D, F, L, H, KV, HD, V int
	W                     int // width of the stacked q, k, v rows: (H + 2 KV) HD
	Q                     int // width of the attention output: H HD (head_dim may make it differ from D)
}

func dimsOf(c *tensor.Config) dims {
	hd := c.HeadDim()
	return dims{D: c.HiddenSize, F: c.IntermediateSize, L: c.NumHiddenLayers, H: c.NumAttentionHeads,
		KV: c.NumKeyValueHeads, HD: hd, V: c.VocabSize, W: (c.NumAttentionHeads + 2*c.NumKeyValueHeads) * hd, Q: c.NumAttentionHeads * hd}
}

// CheckConfig reports whether the model can be built from c: the shape keys must fit together
// (tensor.Config.Validate) and the family (model_type: llama, mistral, qwen2, qwen3) and the
// keys that change the architecture must be ones this model implements; an error names the
// key.
func CheckConfig(c *tensor.Config) error {
	if c == nil {
		return fmt.Errorf("llama: no config")
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("llama: %w", err)
	}
	if _, err := archOf(c); err != nil {
		return fmt.Errorf("llama: %w", err)
	}
	if err := checkSizes(c); err != nil {
		return fmt.Errorf("llama: %w", err)
	}
	return nil
}

// paramSpec is one parameter's name, shape and place among the stacked views.
type paramSpec struct {
	name    string
	shape   []int
	noDecay bool
	dst     func(m *Model) *view
}

// paramSpecs lists the parameters of cfg in checkpoint order.
func paramSpecs(cfg *tensor.Config) []paramSpec {
	d := dimsOf(cfg)
	a, _ := archOf(cfg) // checked by the callers
	var specs []paramSpec
	add := func(name string, dst func(m *Model) *view, noDecay bool, shape ...int) {
		specs = append(specs, paramSpec{name, shape, noDecay, dst})
	}
	add("model.embed_tokens.weight", func(m *Model) *view { return &m.embed }, false, d.V, d.D)
	for l := 0; l < d.L; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		lv := func(f func(*layerView) *view) func(m *Model) *view {
			return func(m *Model) *view { return f(&m.layers[l]) }
		}
		add(p+"input_layernorm.weight", lv(func(v *layerView) *view { return &v.inNorm }), true, d.D)
		// q, k, v adjacent: together they are the stacked qkv matrix.
		add(p+"self_attn.q_proj.weight", lv(func(v *layerView) *view { return &v.qkv }), false, d.H*d.HD, d.D)
		add(p+"self_attn.k_proj.weight", nil, false, d.KV*d.HD, d.D)
		add(p+"self_attn.v_proj.weight", nil, false, d.KV*d.HD, d.D)
		if a.qkvBias { // adjacent too: one stacked bias of the qkv rows
			add(p+"self_attn.q_proj.bias", lv(func(v *layerView) *view { return &v.qkvBias }), true, d.H*d.HD)
			add(p+"self_attn.k_proj.bias", nil, true, d.KV*d.HD)
			add(p+"self_attn.v_proj.bias", nil, true, d.KV*d.HD)
		}
		if a.qkNorm {
			add(p+"self_attn.q_norm.weight", lv(func(v *layerView) *view { return &v.qNorm }), true, d.HD)
			add(p+"self_attn.k_norm.weight", lv(func(v *layerView) *view { return &v.kNorm }), true, d.HD)
		}
		add(p+"self_attn.o_proj.weight", lv(func(v *layerView) *view { return &v.o }), false, d.D, d.Q)
		if a.oBias {
			add(p+"self_attn.o_proj.bias", lv(func(v *layerView) *view { return &v.oBias }), true, d.D)
		}
		add(p+"post_attention_layernorm.weight", lv(func(v *layerView) *view { return &v.postNorm }), true, d.D)
		add(p+"mlp.gate_proj.weight", lv(func(v *layerView) *view { return &v.gateUp }), false, d.F, d.D)
		add(p+"mlp.up_proj.weight", nil, false, d.F, d.D)
		add(p+"mlp.down_proj.weight", lv(func(v *layerView) *view { return &v.down }), false, d.D, d.F)
	}
	add("model.norm.weight", func(m *Model) *view { return &m.norm }, true, d.D)
	if !cfg.TieWordEmbeddings {
		add("lm_head.weight", func(m *Model) *view { return &m.head }, false, d.V, d.D)
	}
	return specs
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// NumParamsOf is the number of parameter values a model of cfg has (a tied head counted once).
func NumParamsOf(cfg *tensor.Config) int {
	n := 0
	for _, s := range paramSpecs(cfg) {
		n += numel(s.shape)
	}
	return n
}

// newModel builds a model with zero parameters on the options' device.
func newModel(cfg *tensor.Config, opt Options) (*Model, error) {
	if err := CheckConfig(cfg); err != nil {
		return nil, err
	}
	dev := opt.Device
	if dev == nil {
		dev = cpu.NewDevice(nil)
	}
	prec, err := compute.ParsePrecision(string(opt.Precision))
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	if prec == compute.PrecisionTF32 && dev.Name() == "cpu" {
		return nil, fmt.Errorf("llama: precision tf32 is a GPU tensor-core mode; the CPU computes in f32 or bf16")
	}
	d := dimsOf(cfg)
	a, err := archOf(cfg)
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	inv, err := a.invFreq(cfg.RopeTheta)
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	rope, err := compute.NewRoPETable(dev, cfg.MaxPositionEmbeddings, inv)
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	m := &Model{cfg: cfg.Clone(), arch: a, dev: dev, prec: prec, rope: rope, layers: make([]layerView, d.L)}
	specs := paramSpecs(cfg)
	total := NumParamsOf(cfg)
	if m.data, err = dev.Alloc(compute.F32, total); err != nil {
		return nil, fmt.Errorf("llama: parameters: %w", err)
	}
	if m.grad, err = dev.Alloc(compute.F32, total); err != nil {
		return nil, fmt.Errorf("llama: gradients: %w", err)
	}
	m.prod = m.data
	if prec == compute.PrecisionBF16 {
		if m.prod, err = dev.Alloc(compute.BF16, total); err != nil {
			return nil, fmt.Errorf("llama: bf16 weights: %w", err)
		}
	}
	off := 0
	for _, s := range specs {
		n := numel(s.shape)
		p := &compute.Param{Name: s.name, Shape: s.shape, Value: m.data.Slice(off, off+n), Grad: m.grad.Slice(off, off+n), NoDecay: s.noDecay}
		m.params = append(m.params, p)
		if s.dst != nil {
			*s.dst(m) = view{m.data.Slice(off, off+n), m.grad.Slice(off, off+n), m.prod.Slice(off, off+n)}
		}
		off += n
	}
	// Widen the first view of each stacked group over its partners.
	for l := range m.layers {
		lv := &m.layers[l]
		lv.qkv = widen(lv.qkv, d.W*d.D)
		lv.gateUp = widen(lv.gateUp, 2*d.F*d.D)
		if a.qkvBias {
			lv.qkvBias = widen(lv.qkvBias, d.W)
		}
	}
	if cfg.TieWordEmbeddings {
		m.head = m.embed
	}
	return m, nil
}

// widen extends a view (slices of the flat buffers) to n elements.
func widen(v view, n int) view { return view{widenBuf(v.w, n), widenBuf(v.g, n), widenBuf(v.p, n)} }

func widenBuf(b compute.Buf, n int) compute.Buf {
	return compute.Whole(b.Storage()).Slice(b.Offset(), b.Offset()+n)
}

// InitStd is the standard deviation of the normal initialisation of every matrix when the
// config has no initializer_range (transformers' LlamaConfig default).
const InitStd = 0.02

// New builds a model from cfg with freshly initialised parameters, as transformers'
// LlamaPreTrainedModel does: every embedding and projection matrix drawn from
// normal(0, initializer_range) (0.02 when the config has none), every RMSNorm weight 1.
// Each tensor draws from its own generator (internal/seeded) seeded by seed and the tensor's
// name, so the values depend only on seed and the shapes, never on the clock, the device or
// the number of layers before it. The values are drawn on the host and copied to the device.
func New(cfg *tensor.Config, seed uint64, opt Options) (*Model, error) {
	m, err := newModel(cfg, opt)
	if err != nil {
		return nil, err
	}
	std := InitStd
	if raw, ok := cfg.Extra("initializer_range"); ok {
		var v float64
		if json.Unmarshal(raw, &v) == nil && v > 0 {
			std = v
		}
	}
	host := make([]float32, m.data.Len())
	views := make([][]float32, len(m.params))
	off := 0
	for i, p := range m.params {
		views[i] = host[off : off+p.Value.Len()]
		off += p.Value.Len()
	}
	params := m.params
	parallel.Each(8, len(params), func(i int) {
		p := params[i]
		if p.NoDecay { // RMSNorm weights
			for j := range views[i] {
				views[i][j] = 1
			}
			return
		}
		seeded.New(paramSeed(seed, p.Name)).FillNormal(views[i], std)
	})
	if err := m.dev.WriteF32(m.data, host); err != nil {
		return nil, fmt.Errorf("llama: initial weights: %w", err)
	}
	return m, nil
}

// paramSeed mixes the model seed with a tensor's name.
func paramSeed(seed uint64, name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return seed ^ h.Sum64()
}

// Params returns the parameters in checkpoint order: embedding; per layer input_layernorm,
// q, k, v, o projections, post_attention_layernorm, gate, up, down projections; final norm;
// lm_head unless tied. The list and its *Param values never change.
func (m *Model) Params() []*compute.Param { return m.params }

// Device is the device the model lives on.
func (m *Model) Device() compute.Device { return m.dev }

// Precision is the precision of the model's matrix products.
func (m *Model) Precision() compute.Precision { return m.prec }

// Config returns a copy of the model's config.
func (m *Model) Config() *tensor.Config { return m.cfg.Clone() }

// HFConfig is the config written as config.json next to the model's tensors (float32).
func (m *Model) HFConfig() *tensor.Config {
	c := m.cfg.Clone()
	c.TorchDType = "float32"
	if c.ModelType == "" {
		c.ModelType = "llama"
	}
	if len(c.Architectures) == 0 {
		c.Architectures = []string{architectures[m.arch.family]}
	}
	return c
}

// NumParams is the number of parameter values (a tied head counted once).
func (m *Model) NumParams() int { return m.data.Len() }

// ZeroGrad sets every gradient to zero.
func (m *Model) ZeroGrad() { m.dev.Zero(m.grad) }

// Clone returns an independent deep copy: same parameter values, device and precision, zero
// gradients, its own scratch buffers.
func (m *Model) Clone() (compute.Model, error) { return m.CloneModel() }

// CloneModel is Clone with the concrete type.
func (m *Model) CloneModel() (*Model, error) {
	c, err := newModel(m.cfg, Options{Device: m.dev, Precision: m.prec})
	if err != nil {
		return nil, err
	}
	m.dev.Copy(c.data, m.data)
	if err := m.dev.Sync(); err != nil {
		return nil, fmt.Errorf("llama: clone: %w", err)
	}
	return c, nil
}

// To returns a copy of the model on another device (or at another precision): the same
// parameter values, zero gradients. m itself is unchanged.
func (m *Model) To(dev compute.Device, prec compute.Precision) (*Model, error) {
	if dev == nil {
		return nil, fmt.Errorf("llama: to: no device")
	}
	c, err := newModel(m.cfg, Options{Device: dev, Precision: prec})
	if err != nil {
		return nil, err
	}
	host, err := compute.Read(m.data)
	if err != nil {
		return nil, fmt.Errorf("llama: to %s: %w", dev.Name(), err)
	}
	if err := dev.WriteF32(c.data, host); err != nil {
		return nil, fmt.Errorf("llama: to %s: %w", dev.Name(), err)
	}
	return c, nil
}

// Values returns every parameter value as one host slice in Params order (a copy).
func (m *Model) Values() ([]float32, error) { return compute.Read(m.data) }

// SetValues replaces every parameter value from a host slice in Params order.
func (m *Model) SetValues(v []float32) error {
	if len(v) != m.data.Len() {
		return fmt.Errorf("llama: %d values for a model of %d parameters", len(v), m.data.Len())
	}
	return m.dev.WriteF32(m.data, v)
}
