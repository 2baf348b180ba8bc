package tensor

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// LlamaSpecs returns the tensors every decoder of the Llama family (llama, mistral, qwen2,
// qwen3) has, with their shapes (as F32), in checkpoint order: embedding; per layer
// input_layernorm, q, k, v, o projections, post_attention_layernorm, gate, up, down
// projections; final norm; lm_head unless the embeddings are tied. A family's small extras
// (q/k/v biases, per-head q/k norms) are not listed: they are vectors, checked when the model
// loads. It allocates nothing, so a config can be checked before a model is built from it;
// sizes that overflow are an error.
func LlamaSpecs(c *Config) ([]Spec, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	D, F, H, KV, V := c.HiddenSize, c.IntermediateSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.VocabSize
	HD := c.HeadDim()
	specs := []Spec{{Name: "model.embed_tokens.weight", DType: F32, Shape: []int{V, D}}}
	for l := 0; l < c.NumHiddenLayers; l++ {
		p := "model.layers." + strconv.Itoa(l) + "."
		specs = append(specs,
			Spec{p + "input_layernorm.weight", F32, []int{D}},
			Spec{p + "self_attn.q_proj.weight", F32, []int{H * HD, D}},
			Spec{p + "self_attn.k_proj.weight", F32, []int{KV * HD, D}},
			Spec{p + "self_attn.v_proj.weight", F32, []int{KV * HD, D}},
			Spec{p + "self_attn.o_proj.weight", F32, []int{D, H * HD}},
			Spec{p + "post_attention_layernorm.weight", F32, []int{D}},
			Spec{p + "mlp.gate_proj.weight", F32, []int{F, D}},
			Spec{p + "mlp.up_proj.weight", F32, []int{F, D}},
			Spec{p + "mlp.down_proj.weight", F32, []int{D, F}},
		)
		if l == 0 {
			// Every layer has the same shapes: check the sizes once, before a huge layer
			// count makes a huge list.
			var perLayer int64
			for _, s := range specs[1:] {
				n, err := Numel(s.Shape)
				if err != nil {
					return nil, fmt.Errorf("config: tensor %s: %w", s.Name, err)
				}
				perLayer += int64(n)
			}
			if c.NumHiddenLayers > 1<<20 || perLayer > (1<<62)/int64(c.NumHiddenLayers) {
				return nil, fmt.Errorf("config: %d layers of %d parameters each is more than any machine holds", c.NumHiddenLayers, perLayer)
			}
		}
	}
	specs = append(specs, Spec{"model.norm.weight", F32, []int{D}})
	if !c.TieWordEmbeddings {
		specs = append(specs, Spec{"lm_head.weight", F32, []int{V, D}})
	}
	if _, err := Numel(specs[0].Shape); err != nil {
		return nil, fmt.Errorf("config: vocab_size %d x hidden_size %d: %w", V, D, err)
	}
	return specs, nil
}

// LlamaParamCount is the number of parameters of a LlamaForCausalLM of this config.
func LlamaParamCount(c *Config) (int64, error) {
	specs, err := LlamaSpecs(c)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, s := range specs {
		k, _ := Numel(s.Shape) // checked by LlamaSpecs
		n += int64(k)
	}
	return n, nil
}

var layerIndex = regexp.MustCompile(`^model\.layers\.(\d+)\.`)

// CheckLlamaShapes checks the checkpoint's tensors against the shapes its config (or cfg, when
// not nil) calls for, reading only the headers: a config.json beside tensors of another model
// is an error naming the first tensor that differs and the config's sizes, found before a model
// of the config's size is allocated.
func CheckLlamaShapes(ck *Checkpoint, cfg *Config) error {
	if cfg == nil {
		cfg = ck.Config
	}
	if cfg == nil {
		return fmt.Errorf("%s: no %s", ck.Dir, ConfigFile)
	}
	specs, err := LlamaSpecs(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", ck.Dir, err)
	}
	sizes := fmt.Sprintf("hidden_size %d, intermediate_size %d, num_hidden_layers %d, num_attention_heads %d, num_key_value_heads %d, vocab_size %d",
		cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers, cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.VocabSize)
	for _, s := range specs {
		e, ok := ck.Entry(s.Name)
		if !ok {
			layers := -1
			for _, n := range ck.Names() {
				if m := layerIndex.FindStringSubmatch(n); m != nil {
					if i, err := strconv.Atoi(m[1]); err == nil {
						layers = max(layers, i)
					}
				}
			}
			extra := ""
			if strings.HasPrefix(s.Name, "model.layers.") {
				extra = fmt.Sprintf("; the checkpoint has %d layers", layers+1)
			}
			return fmt.Errorf("%s: config.json does not describe these tensors: %s is missing (config: %s%s)", ck.Dir, s.Name, sizes, extra)
		}
		if !slices.Equal(e.Shape, s.Shape) {
			return fmt.Errorf("%s: config.json does not describe these tensors: %s has shape %s, the config calls for %s (config: %s)", ck.Dir, s.Name, FormatShape(e.Shape), FormatShape(s.Shape), sizes)
		}
	}
	return nil
}
