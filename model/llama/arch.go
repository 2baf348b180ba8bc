package llama

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/tensor"
)

// arch is what a config's model_type and keys make of the decoder. The families differ only
// in small ways from Llama, so one model implements all of them, the way transformers'
// modeling files for them differ from modeling_llama.py:
//
//	llama    attention_bias (q, k, v and o biases), rope_scaling (llama3, linear, dynamic)
//	mistral  sliding_window attention; head_dim
//	qwen2    q, k and v biases always
//	qwen3    a per-head RMSNorm of q and k before RoPE (q_norm, k_norm); head_dim; attention_bias
type arch struct {
	family  string
	headDim int
	qkvBias bool // q, k, v projections have biases
	oBias   bool // o_proj has a bias
	qkNorm  bool // per-head RMSNorm of q and k (Qwen3)
	window  int  // sliding window (Mistral); 0: none
	rope    ropeScaling
}

// Families lists the model_type values the model implements.
func Families() []string { return []string{"llama", "mistral", "qwen2", "qwen3"} }

// architectures are the class names transformers writes in config.json per family.
var architectures = map[string]string{
	"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM",
}

func boolKey(c *tensor.Config, key string) (bool, error) {
	raw, ok := c.Extra(key)
	if !ok || string(raw) == "null" {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, fmt.Errorf("config %s is %s, not true or false", key, raw)
	}
	return b, nil
}

func intKey(c *tensor.Config, key string) (int, error) {
	raw, ok := c.Extra(key)
	if !ok || string(raw) == "null" {
		return 0, nil
	}
	var v int
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("config %s is %s, not a whole number", key, raw)
	}
	return v, nil
}

// archOf reads the architecture from c; an unsupported family or key names itself.
func archOf(c *tensor.Config) (arch, error) {
	a := arch{family: c.ModelType, headDim: c.HeadDim()}
	if a.family == "" {
		a.family = "llama"
	}
	if _, ok := architectures[a.family]; !ok {
		return a, fmt.Errorf("config model_type %q is not supported (supported: %s)", c.ModelType, strings.Join(Families(), ", "))
	}
	var s string
	if raw, ok := c.Extra("hidden_act"); ok && json.Unmarshal(raw, &s) == nil && s != "silu" {
		return a, fmt.Errorf("config hidden_act %q is not supported (only \"silu\")", s)
	}
	if b, err := boolKey(c, "mlp_bias"); err != nil || b {
		if err != nil {
			return a, err
		}
		return a, fmt.Errorf("config mlp_bias = true is not supported (MLP projections without biases only)")
	}
	attnBias, err := boolKey(c, "attention_bias")
	if err != nil {
		return a, err
	}
	switch a.family {
	case "llama", "qwen3":
		a.qkvBias, a.oBias = attnBias, attnBias
	case "qwen2":
		a.qkvBias = true // hard-wired in transformers' Qwen2Attention (o_proj has none)
	}
	if a.family == "qwen3" {
		a.qkNorm = true
	}
	if a.family == "mistral" {
		if a.window, err = intKey(c, "sliding_window"); err != nil {
			return a, err
		}
		if a.window < 0 {
			return a, fmt.Errorf("config sliding_window %d must be positive or null", a.window)
		}
	}
	if a.family == "qwen2" || a.family == "qwen3" {
		if b, err := boolKey(c, "use_sliding_window"); err != nil || b {
			if err != nil {
				return a, err
			}
			return a, fmt.Errorf("config use_sliding_window = true is not supported for %s (sliding-window layers mixed with full ones)", a.family)
		}
		if raw, ok := c.Extra("layer_types"); ok && string(raw) != "null" {
			var types []string
			if err := json.Unmarshal(raw, &types); err != nil {
				return a, fmt.Errorf("config layer_types is %s, not a list of strings", raw)
			}
			for i, t := range types {
				if t != "full_attention" {
					return a, fmt.Errorf("config layer_types[%d] is %q; only \"full_attention\" layers are supported", i, t)
				}
			}
		}
	}
	for _, key := range []string{"partial_rotary_factor", "num_experts", "moe_intermediate_size"} {
		if raw, ok := c.Extra(key); ok && string(raw) != "null" {
			return a, fmt.Errorf("config %s %s is not supported (a %s model without it only)", key, raw, a.family)
		}
	}
	if a.rope, err = ropeOf(c); err != nil {
		return a, err
	}
	return a, nil
}

// ropeScaling is a config's rope_scaling.
type ropeScaling struct {
	kind                      string // "default", "linear", "dynamic", "llama3"
	factor, lowFreq, highFreq float64
	originalMax               int
}

// ropeOf reads rope_scaling (rope_type, or type in older configs).
func ropeOf(c *tensor.Config) (ropeScaling, error) {
	r := ropeScaling{kind: "default"}
	raw, ok := c.Extra("rope_scaling")
	if !ok || string(raw) == "null" {
		return r, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return r, fmt.Errorf("config rope_scaling %s is not an object", raw)
	}
	str := func(k string) string {
		var s string
		if v, ok := m[k]; ok {
			_ = json.Unmarshal(v, &s)
		}
		return s
	}
	num := func(k string) (float64, error) {
		v, ok := m[k]
		if !ok {
			return 0, fmt.Errorf("config rope_scaling has no %s", k)
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return 0, fmt.Errorf("config rope_scaling %s is %s, not a number", k, v)
		}
		return f, nil
	}
	r.kind = str("rope_type")
	if r.kind == "" {
		r.kind = str("type")
	}
	var err error
	switch r.kind {
	case "default", "":
		r.kind = "default"
		return r, nil
	case "linear", "dynamic":
		if r.factor, err = num("factor"); err != nil {
			return r, err
		}
	case "llama3":
		for _, f := range []struct {
			k string
			v *float64
		}{{"factor", &r.factor}, {"low_freq_factor", &r.lowFreq}, {"high_freq_factor", &r.highFreq}} {
			if *f.v, err = num(f.k); err != nil {
				return r, err
			}
		}
		om, err := num("original_max_position_embeddings")
		if err != nil {
			return r, err
		}
		r.originalMax = int(om)
		if r.highFreq <= r.lowFreq {
			return r, fmt.Errorf("config rope_scaling high_freq_factor %g must exceed low_freq_factor %g", r.highFreq, r.lowFreq)
		}
	default:
		return r, fmt.Errorf("config rope_scaling rope_type %q is not supported (default, linear, dynamic and llama3 are)", r.kind)
	}
	if !(r.factor > 0) {
		return r, fmt.Errorf("config rope_scaling factor %g must be positive", r.factor)
	}
	return r, nil
}

// invFreq returns the rotary inverse frequencies for this architecture, as transformers'
// ROPE_INIT_FUNCTIONS compute them. Dynamic NTK scaling only changes them for sequences longer
// than max_position_embeddings, which this model never runs, so it is the default here.
func (a arch) invFreq(theta float64) ([]float32, error) {
	inv, err := compute.RoPEInvFreq(a.headDim, theta)
	if err != nil {
		return nil, err
	}
	switch a.rope.kind {
	case "linear":
		for i := range inv {
			inv[i] = float32(float64(inv[i]) / a.rope.factor)
		}
	case "llama3":
		r := a.rope
		oldLen := float64(r.originalMax)
		lowWavelen, highWavelen := oldLen/r.lowFreq, oldLen/r.highFreq
		for i, f := range inv {
			wavelen := 2 * math.Pi / float64(f)
			switch {
			case wavelen < highWavelen: // high frequencies: unchanged
			case wavelen > lowWavelen:
				inv[i] = float32(float64(f) / r.factor)
			default:
				smooth := (oldLen/wavelen - r.lowFreq) / (r.highFreq - r.lowFreq)
				inv[i] = float32((1-smooth)*float64(f)/r.factor + smooth*float64(f))
			}
		}
	}
	return inv, nil
}
