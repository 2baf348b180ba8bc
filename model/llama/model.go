package llama

import (
	"encoding/json"
	"fmt"
	"hash/fnv"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"github.com/ordermerge/ordermerge/tensor"
)

// Options configure a Model's compute.
type Options struct {
	// Backend runs the matrix products and sets the thread count. Nil means
	// cpu.DefaultBackend(): OpenBLAS when built with cgo, pure Go otherwise, one thread per core.
	Backend cpu.Backend
}

// Model is a Llama decoder with its parameters, gradients and scratch buffers.
type Model struct {
	cfg  *tensor.Config
	be   cpu.Backend
	rope *cpu.RoPE

	// All parameters live in one array (and gradients in another), in Params order, so the
	// q, k and v projections of a layer are one stacked matrix for a single matrix product,
	// and so are gate and up.
	data, grad []float32
	params     []*compute.Param
	embed      view
	layers     []layerView
	norm       view
	head       view // the embedding when tied

	acts acts
	inf  infer
}

// view is a parameter's values and gradient.
type view struct{ w, g []float32 }

type layerView struct {
	inNorm, qkv, o, postNorm, gateUp, down view
}

// Dims of a config that the model code uses everywhere.
type dims struct {
	D, F, L, H, KV, HD, V, W int // W: width of the stacked q, k, v rows
}

func dimsOf(c *tensor.Config) dims {
	hd := c.HiddenSize / c.NumAttentionHeads
	return dims{D: c.HiddenSize, F: c.IntermediateSize, L: c.NumHiddenLayers, H: c.NumAttentionHeads,
		KV: c.NumKeyValueHeads, HD: hd, V: c.VocabSize, W: (c.NumAttentionHeads + 2*c.NumKeyValueHeads) * hd}
}

// CheckConfig reports whether the model can be built from c: the shape keys must fit together
// (tensor.Config.Validate) and the features that change the architecture must be the ones
// this model implements (SiLU activation, no attention/MLP biases, no RoPE scaling, head_dim
// = hidden_size / num_attention_heads).
func CheckConfig(c *tensor.Config) error {
	if c == nil {
		return fmt.Errorf("llama: no config")
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("llama: %w", err)
	}
	if c.ModelType != "" && c.ModelType != "llama" {
		return fmt.Errorf("llama: config model_type is %q, want \"llama\"", c.ModelType)
	}
	var s string
	if raw, ok := c.Extra("hidden_act"); ok && json.Unmarshal(raw, &s) == nil && s != "silu" {
		return fmt.Errorf("llama: config hidden_act %q is not supported (only \"silu\")", s)
	}
	for _, key := range []string{"attention_bias", "mlp_bias"} {
		var b bool
		if raw, ok := c.Extra(key); ok && json.Unmarshal(raw, &b) == nil && b {
			return fmt.Errorf("llama: config %s = true is not supported (this model has no biases)", key)
		}
	}
	if raw, ok := c.Extra("rope_scaling"); ok && string(raw) != "null" {
		return fmt.Errorf("llama: config rope_scaling %s is not supported (plain RoPE only)", raw)
	}
	var hd int
	if raw, ok := c.Extra("head_dim"); ok && json.Unmarshal(raw, &hd) == nil && hd != 0 && hd != c.HeadDim() {
		return fmt.Errorf("llama: config head_dim %d differs from hidden_size/num_attention_heads = %d; not supported", hd, c.HeadDim())
	}
	return nil
}

// newModel builds a model with zero parameters.
func newModel(cfg *tensor.Config, opt Options) (*Model, error) {
	if err := CheckConfig(cfg); err != nil {
		return nil, err
	}
	be := opt.Backend
	if be == nil {
		be = cpu.DefaultBackend()
	}
	d := dimsOf(cfg)
	rope, err := cpu.NewRoPE(d.HD, cfg.MaxPositionEmbeddings, cfg.RopeTheta)
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	m := &Model{cfg: cfg.Clone(), be: be, rope: rope}
	type spec struct {
		name    string
		shape   []int
		noDecay bool
		dst     *view
	}
	var specs []spec
	add := func(name string, dst *view, noDecay bool, shape ...int) {
		specs = append(specs, spec{name, shape, noDecay, dst})
	}
	m.layers = make([]layerView, d.L)
	add("model.embed_tokens.weight", &m.embed, false, d.V, d.D)
	for l := range m.layers {
		lv, p := &m.layers[l], fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", &lv.inNorm, true, d.D)
		// q, k, v adjacent: together they are the stacked qkv matrix.
		add(p+"self_attn.q_proj.weight", &lv.qkv, false, d.H*d.HD, d.D)
		add(p+"self_attn.k_proj.weight", nil, false, d.KV*d.HD, d.D)
		add(p+"self_attn.v_proj.weight", nil, false, d.KV*d.HD, d.D)
		add(p+"self_attn.o_proj.weight", &lv.o, false, d.D, d.H*d.HD)
		add(p+"post_attention_layernorm.weight", &lv.postNorm, true, d.D)
		add(p+"mlp.gate_proj.weight", &lv.gateUp, false, d.F, d.D)
		add(p+"mlp.up_proj.weight", nil, false, d.F, d.D)
		add(p+"mlp.down_proj.weight", &lv.down, false, d.D, d.F)
	}
	add("model.norm.weight", &m.norm, true, d.D)
	if !cfg.TieWordEmbeddings {
		add("lm_head.weight", &m.head, false, d.V, d.D)
	}
	total := 0
	for _, s := range specs {
		total += numel(s.shape)
	}
	m.data, m.grad = make([]float32, total), make([]float32, total)
	off := 0
	for _, s := range specs {
		n := numel(s.shape)
		p := &compute.Param{Name: s.name, Shape: s.shape, Data: m.data[off : off+n : off+n], Grad: m.grad[off : off+n : off+n], NoDecay: s.noDecay}
		m.params = append(m.params, p)
		if s.dst != nil {
			*s.dst = view{m.data[off : off+n], m.grad[off : off+n]}
		}
		off += n
	}
	// Widen the first view of each stacked group over its partners.
	for l := range m.layers {
		lv := &m.layers[l]
		lv.qkv = widen(lv.qkv, d.W*d.D)
		lv.gateUp = widen(lv.gateUp, 2*d.F*d.D)
	}
	if cfg.TieWordEmbeddings {
		m.head = m.embed
	}
	return m, nil
}

func widen(v view, n int) view { return view{v.w[:n:n], v.g[:n:n]} }

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// InitStd is the standard deviation of the normal initialisation of every matrix when the
// config has no initializer_range (transformers' LlamaConfig default).
const InitStd = 0.02

// New builds a model from cfg with freshly initialised parameters, as transformers'
// LlamaPreTrainedModel does: every embedding and projection matrix drawn from
// normal(0, initializer_range) (0.02 when the config has none), every RMSNorm weight 1.
// Each tensor draws from its own generator (seeded.RNG) seeded by seed and the tensor's name, so
// the values depend only on seed and the shapes, never on the clock or on the number of layers
// before it.
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
	params := m.params
	cpu.For(m.be.Threads(), len(params), func(lo, hi int) {
		for _, p := range params[lo:hi] {
			if p.NoDecay { // RMSNorm weights
				for i := range p.Data {
					p.Data[i] = 1
				}
				continue
			}
			seeded.New(paramSeed(seed, p.Name)).FillNormal(p.Data, std)
		}
	})
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
		c.Architectures = []string{"LlamaForCausalLM"}
	}
	return c
}

// Backend is the compute backend the model runs on.
func (m *Model) Backend() cpu.Backend { return m.be }

// SetBackend switches the compute backend (for example to compare backends on one model).
func (m *Model) SetBackend(be cpu.Backend) {
	if be != nil {
		m.be = be
		m.acts = acts{} // per-thread scratch is sized by the thread count
	}
}

// NumParams is the number of parameter values (a tied head counted once).
func (m *Model) NumParams() int { return len(m.data) }

// ZeroGrad sets every gradient to zero.
func (m *Model) ZeroGrad() { clear(m.grad) }

// Clone returns an independent deep copy: same parameter values and backend, zero gradients,
// its own scratch buffers.
func (m *Model) Clone() (compute.Model, error) { return m.CloneModel() }

// CloneModel is Clone with the concrete type.
func (m *Model) CloneModel() (*Model, error) {
	c, err := newModel(m.cfg, Options{Backend: m.be})
	if err != nil {
		return nil, err
	}
	copy(c.data, m.data)
	return c, nil
}
