package tensor

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Config is a Hugging Face config.json with the LlamaConfig keys typed. Keys it does not know
// are kept as they were read and written back unchanged, so rewriting a config never loses
// information (rope_scaling, bos_token_id, quantization settings, ...).
type Config struct {
	ModelType             string   `json:"model_type,omitempty"`
	Architectures         []string `json:"architectures,omitempty"`
	HiddenSize            int      `json:"hidden_size"`
	IntermediateSize      int      `json:"intermediate_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	NumKeyValueHeads      int      `json:"num_key_value_heads"`
	VocabSize             int      `json:"vocab_size"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	RMSNormEps            float64  `json:"rms_norm_eps"`
	RopeTheta             float64  `json:"rope_theta"`
	TieWordEmbeddings     bool     `json:"tie_word_embeddings"`
	TorchDType            string   `json:"torch_dtype,omitempty"`

	extra map[string]json.RawMessage
	// read lists the typed keys the file had, so a config that is not a Llama one (no
	// hidden_size, say) is written back without typed keys it never had; filled holds the
	// defaults given to the keys it lacked, as JSON.
	read   map[string]bool
	filled map[string]json.RawMessage
}

// configKeys are the keys held in typed fields.
var configKeys = map[string]bool{
	"model_type": true, "architectures": true, "hidden_size": true, "intermediate_size": true,
	"num_hidden_layers": true, "num_attention_heads": true, "num_key_value_heads": true,
	"vocab_size": true, "max_position_embeddings": true, "rms_norm_eps": true, "rope_theta": true,
	"tie_word_embeddings": true, "torch_dtype": true,
}

// NewLlamaConfig returns a LlamaConfig with transformers' defaults for the keys not given
// (eps 1e-6, rope theta 10000, kv heads = heads).
func NewLlamaConfig(hidden, intermediate, layers, heads, kvHeads, vocab, maxPos int) *Config {
	if kvHeads == 0 {
		kvHeads = heads
	}
	return &Config{
		ModelType: "llama", Architectures: []string{"LlamaForCausalLM"},
		HiddenSize: hidden, IntermediateSize: intermediate, NumHiddenLayers: layers,
		NumAttentionHeads: heads, NumKeyValueHeads: kvHeads, VocabSize: vocab,
		MaxPositionEmbeddings: maxPos, RMSNormEps: 1e-6, RopeTheta: 10000, TorchDType: "float32",
	}
}

// UnmarshalJSON reads a config, keeping unknown keys and filling transformers' LlamaConfig
// defaults for missing ones.
func (c *Config) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	type plain Config // no methods: avoids recursion
	p := plain{MaxPositionEmbeddings: 2048, RMSNormEps: 1e-6, RopeTheta: 10000}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if _, ok := raw["num_key_value_heads"]; !ok || p.NumKeyValueHeads == 0 {
		p.NumKeyValueHeads = p.NumAttentionHeads
	}
	*c = Config(p)
	c.extra = make(map[string]json.RawMessage)
	c.read = make(map[string]bool)
	for k, v := range raw {
		if configKeys[k] {
			c.read[k] = true
		} else {
			c.extra[k] = v
		}
	}
	typed, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(typed, &all); err != nil {
		return err
	}
	c.filled = make(map[string]json.RawMessage)
	for k, v := range all {
		if !c.read[k] {
			c.filled[k] = v
		}
	}
	return nil
}

// MarshalJSON writes the typed keys and every unknown key that was read.
func (c *Config) MarshalJSON() ([]byte, error) {
	type plain Config
	typed, err := json.Marshal(plain(*c))
	if err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(typed, &all); err != nil {
		return nil, err
	}
	if c.read != nil {
		// A config read from a file keeps its own set of typed keys, plus any set since.
		for k, v := range all {
			if !c.read[k] && (isZeroJSON(v) || string(v) == string(c.filled[k])) {
				delete(all, k)
			}
		}
	}
	for k, v := range c.extra {
		all[k] = v
	}
	return json.Marshal(all) // map keys come out sorted: stable files
}

func isZeroJSON(v json.RawMessage) bool {
	switch string(v) {
	case "0", "false", `""`, "null", "[]":
		return true
	}
	return false
}

// Extra returns the raw JSON of a key the typed fields do not hold.
func (c *Config) Extra(key string) (json.RawMessage, bool) {
	v, ok := c.extra[key]
	return v, ok
}

// SetExtra sets a key the typed fields do not hold to the JSON encoding of v.
func (c *Config) SetExtra(key string, v any) error {
	if configKeys[key] {
		return fmt.Errorf("config key %q has a typed field; set that instead", key)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("config key %q: %w", key, err)
	}
	if c.extra == nil {
		c.extra = make(map[string]json.RawMessage)
	}
	c.extra[key] = b
	return nil
}

// ExtraKeys lists the unknown keys kept from the file, sorted.
func (c *Config) ExtraKeys() []string {
	keys := make([]string, 0, len(c.extra))
	for k := range c.extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Clone returns a deep copy.
func (c *Config) Clone() *Config {
	d := *c
	d.Architectures = append([]string(nil), c.Architectures...)
	d.extra = make(map[string]json.RawMessage, len(c.extra))
	for k, v := range c.extra {
		d.extra[k] = append(json.RawMessage(nil), v...)
	}
	if c.read != nil {
		d.read = make(map[string]bool, len(c.read))
		for k := range c.read {
			d.read[k] = true
		}
		d.filled = make(map[string]json.RawMessage, len(c.filled))
		for k, v := range c.filled {
			d.filled[k] = v
		}
	}
	return &d
}

// HeadDim is the config's head_dim when it has one (Qwen3, Mistral and others set it; it
// may differ from hidden_size / num_attention_heads), else hidden_size / num_attention_heads.
func (c *Config) HeadDim() int {
	if hd := c.explicitHeadDim(); hd > 0 {
		return hd
	}
	if c.NumAttentionHeads == 0 {
		return 0
	}
	return c.HiddenSize / c.NumAttentionHeads
}

// explicitHeadDim is the head_dim key (0 when absent or null).
func (c *Config) explicitHeadDim() int {
	raw, ok := c.extra["head_dim"]
	if !ok {
		return 0
	}
	var hd int
	if json.Unmarshal(raw, &hd) != nil {
		return -1
	}
	return hd
}

// Validate checks that the shape-defining keys are positive and fit together.
func (c *Config) Validate() error {
	for _, f := range []struct {
		key string
		v   int
	}{
		{"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"num_key_value_heads", c.NumKeyValueHeads}, {"vocab_size", c.VocabSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings},
	} {
		if f.v <= 0 {
			return fmt.Errorf("config: %s must be positive, got %d", f.key, f.v)
		}
	}
	switch hd := c.explicitHeadDim(); {
	case hd < 0:
		raw := c.extra["head_dim"]
		return fmt.Errorf("config: head_dim %s is not a whole number", raw)
	case hd == 0 && c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("config: hidden_size %d is not divisible by num_attention_heads %d (and there is no head_dim)", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return fmt.Errorf("config: num_attention_heads %d is not divisible by num_key_value_heads %d", c.NumAttentionHeads, c.NumKeyValueHeads)
	}
	if c.HeadDim()%2 != 0 {
		return fmt.Errorf("config: head dimension %d (head_dim, or hidden_size / num_attention_heads) must be even for RoPE", c.HeadDim())
	}
	if c.RMSNormEps <= 0 {
		return fmt.Errorf("config: rms_norm_eps must be positive, got %g", c.RMSNormEps)
	}
	if c.RopeTheta <= 0 {
		return fmt.Errorf("config: rope_theta must be positive, got %g", c.RopeTheta)
	}
	return nil
}

// maxConfigSize bounds config.json (real ones are a few KB).
const maxConfigSize = 16 << 20

// ReadConfig reads a config.json file.
func ReadConfig(path string) (*Config, error) {
	b, err := readSmallFile(path, maxConfigSize)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// WriteConfig writes c to path atomically, indented like transformers writes it.
func WriteConfig(path string, c *Config) error {
	b, err := c.Encode()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteFileAtomic(path, b)
}

// Encode returns the indented JSON of c, ending in a newline.
func (c *Config) Encode() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	ind, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(ind, '\n'), nil
}

func marshalIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
