package merge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ordermerge/ordermerge/tensor"
)

// Config describes a merge of checkpoint folders: the mergekit YAML schema for the methods
// ordermerge shares with mergekit, plus its own methods and parameters. It can be read from
// YAML (ParseConfig, LoadConfig) or built in code. Paths are local folders (or single
// .safetensors files); relative ones are relative to the working directory, as in mergekit.
type Config struct {
	// Method is a registered method name (merge_method).
	Method string
	// Base is the base model's folder (base_model), or "".
	Base string
	// Models are the models to merge. An entry whose path is the base's is the base itself
	// (mergekit configs often list it): it is dropped from the models.
	Models []Input
	// Params are the top-level parameters. Values: numbers, bools, strings, []float64 (a
	// gradient over layers), []Filter or []any of {filter, value} maps.
	Params map[string]any
	// Seed drives the randomised methods (YAML: parameters.seed).
	Seed uint64
	// DType is the compute dtype, as mergekit's dtype (see the package doc; "": the inputs'
	// dtype when they agree, else float32). It also sets the output dtype when OutDType is
	// empty, as in mergekit.
	DType string
	// OutDType is the dtype of the merged float tensors ("" keeps each tensor's dtype in the
	// base, or in the first model without a base).
	OutDType string
	// TokenizerSource names the tokenizer of the output (mergekit's tokenizer_source): ""
	// (copy the base's tokenizer files, else the first model's, and cut embed_tokens/lm_head
	// to the rows every model has), "base", "union", or the path of one of the inputs. When
	// set, the embedding rows of every input are mapped to the output vocabulary by token
	// (see the package doc).
	TokenizerSource string
	// Tokenizer is mergekit's tokenizer block; nil without one. It cannot be combined with
	// TokenizerSource.
	Tokenizer *TokenizerConfig
	// ChatTemplate sets the output tokenizer's chat template: "auto" (the template most of the
	// inputs have), "chatml", or a Jinja template.
	ChatTemplate string
	// Slices, instead of Models, build the output layer by layer from layer ranges of the
	// inputs (mergekit's slices): stacking ("passthrough") or merging ranges.
	Slices []Slice
	// Name names the merge in a file of several (mergekit-multimerge): later merges use the
	// name as a model path to refer to its output.
	Name string
	// Compat selects an older mergekit behaviour where it changed: "" (current mergekit,
	// 0.1.4) or CompatPre202503.
	Compat string
	// Registry holds the methods Method is looked up in (nil: the built-in methods).
	// Registry.ParseConfig and Registry.LoadConfig set it.
	Registry *Registry

	file string
	pos  map[string]string // parameter path -> "file:line:col"
}

// CompatPre202503 selects mergekit's behaviour before fd5eb19 (2025-03): a layer gradient
// gives the tensors after the layers (model.norm, lm_head) its last value, not its first.
const CompatPre202503 = "mergekit-pre-2025-03"

// TokenizerConfig is mergekit's tokenizer block.
type TokenizerConfig struct {
	// Source is "union" (the default), "base", or the path of one of the inputs.
	Source string
	// PadToMultipleOf pads the vocabulary (and the embedding rows, with zeros) to a multiple.
	PadToMultipleOf int
	// Tokens set where chosen tokens' embedding rows come from (mergekit's tokens); a token
	// the output vocabulary lacks is added to it.
	Tokens map[string]TokenEmbedding
}

// TokenEmbedding is one rule of TokenizerConfig.Tokens: the row comes from Model (a model
// path; with Token or TokenID, that token's row of the model's own vocabulary, else this
// token's row), or is zeros (Zero). A model that has the token keeps its own row unless
// Force. An empty rule keeps the default (see the package doc).
type TokenEmbedding struct {
	Model   string
	Token   string
	TokenID int // -1: none
	Zero    bool
	Force   bool
}

// Slice is one output slice: each source contributes the layers of its LayerRange; all
// sources of a slice have the same number of layers, merged layer by layer into the next
// output layers. The tensors before the layers (embeddings) come from the first slice's
// sources, those after them (final norm, lm_head) from the last slice's.
type Slice struct {
	Sources []SliceSource
	// Params apply to every tensor of the slice, between the sources' own and the top level.
	Params map[string]any
}

// SliceSource is one input of a slice: a model and a half-open layer range [from, to).
type SliceSource struct {
	Path       string
	LayerRange [2]int
	Params     map[string]any
}

// Input is one model of a Config.
type Input struct {
	Path   string
	Params map[string]any
}

// SetOrigin records where the setting at path ("models[1].parameters.weight",
// "parameters.t", "merge_method", ...) came from, such as a command-line flag, so that error
// messages point there. ParseConfig records file positions itself.
func (c *Config) SetOrigin(path, origin string) {
	if c.pos == nil {
		c.pos = map[string]string{}
	}
	c.pos[path] = origin
}

// where names a config path for error messages, with its position in the file when known.
func (c *Config) where(path string) string {
	if p, ok := c.pos[path]; ok {
		return p + ": " + path
	}
	return path
}

// LoadConfig reads a YAML merge config.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(b, path)
}

// topLevelKeys are the keys a config may have; mergekitOnly are mergekit keys ordermerge does
// not support (an error that says so rather than "unknown").
var (
	topLevelKeys = map[string]bool{"merge_method": true, "base_model": true, "models": true, "parameters": true,
		"dtype": true, "out_dtype": true, "tokenizer_source": true, "tokenizer": true, "chat_template": true,
		"slices": true, "name": true, "ordermerge_compat": true}
	mergekitOnly = map[string]string{
		"modules": "modules (multi-module architectures) are not supported; use models or slices",
	}
)

// ParseConfig parses a YAML merge config strictly: an unknown key, an unknown parameter for the
// method, or a value of the wrong form is an error naming the key, its path and its line.
// filename is used in messages only. A file of several merges (YAML documents, each but the
// last with a name) is read with ParseConfigs.
func ParseConfig(data []byte, filename string) (*Config, error) {
	return parseConfig(data, filename, nil)
}

func parseConfig(data []byte, filename string, r *Registry) (*Config, error) {
	cs, err := parseConfigs(data, filename, r)
	if err != nil {
		return nil, err
	}
	if len(cs) > 1 {
		return nil, fmt.Errorf("%s: holds %d merges (YAML documents); run it as a multi-merge (ParseConfigs, RunAll)", filename, len(cs))
	}
	return cs[0], nil
}

// ParseConfigs parses a YAML file of one or more merge configs, one per YAML document
// (mergekit-multimerge's format): every document but one, the final merge, has a name, and a
// later merge may use an earlier one's name as a model path. A file of several documents
// without names is an error, never a silent merge of the first.
func ParseConfigs(data []byte, filename string) ([]*Config, error) {
	return parseConfigs(data, filename, nil)
}

func parseConfigs(data []byte, filename string, reg *Registry) ([]*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*Config
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", filename, err)
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
			continue // an empty document (a trailing ---)
		}
		c, err := parseDocument(doc.Content[0], filename, reg)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: empty config", filename)
	}
	if len(out) > 1 {
		if err := checkMulti(out, filename); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkMulti checks the names of a multi-merge file: unique, at most one unnamed merge.
func checkMulti(cs []*Config, filename string) error {
	seen := map[string]bool{}
	unnamed := 0
	for i, c := range cs {
		if c.Name == "" {
			unnamed++
			if unnamed > 1 {
				return fmt.Errorf("%s: document %d: more than one merge has no name (in a file of several merges, each but the final one needs name:)", filename, i+1)
			}
			continue
		}
		if seen[c.Name] {
			return fmt.Errorf("%s: %sname %q is used by two merges", filename, c.prefix("name"), c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}

// yamlReader holds what parseDocument needs to report positions.
type yamlReader struct {
	filename string
	pos      map[string]string // the config's: where each setting was written
}

func (r yamlReader) at(n *yaml.Node) string {
	return fmt.Sprintf("%s:%d:%d", r.filename, n.Line, n.Column)
}

func (r yamlReader) errAt(n *yaml.Node, path, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %s", r.at(n), path, fmt.Sprintf(format, args...))
}

// paramBlock is a parameters mapping waiting for the method to be known.
type paramBlock struct {
	node     *yaml.Node
	path     string
	perModel bool
	dst      *map[string]any
}

func parseDocument(root *yaml.Node, filename string, reg *Registry) (*Config, error) {
	c := &Config{file: filename, pos: map[string]string{}, Registry: reg}
	r := yamlReader{filename: filename, pos: c.pos}
	errAt := r.errAt
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: the config must be a mapping of keys (merge_method, models, ...)", r.at(root))
	}
	var blocks []paramBlock
	var methodNode *yaml.Node
	var modelsNode, slicesNode, sourceNode, tokNode *yaml.Node
	err := eachKey(root, "", errAt, func(key, val *yaml.Node, path string) error {
		k := key.Value
		c.pos[path] = r.at(key)
		if why, ok := mergekitOnly[k]; ok {
			return errAt(key, path, "%s", why)
		}
		if !topLevelKeys[k] {
			return errAt(key, path, "unknown key (known: %s)", sortedKeys(topLevelKeys))
		}
		switch k {
		case "merge_method", "base_model", "dtype", "out_dtype", "tokenizer_source", "chat_template", "name", "ordermerge_compat":
			s, err := scalarString(val)
			if err != nil {
				return errAt(val, path, "%v", err)
			}
			switch k {
			case "merge_method":
				c.Method, methodNode = s, val
			case "base_model":
				c.Base = s
			case "dtype":
				c.DType = s
			case "out_dtype":
				c.OutDType = s
			case "tokenizer_source":
				c.TokenizerSource, sourceNode = s, val
			case "chat_template":
				c.ChatTemplate = s
			case "name":
				c.Name = s
			case "ordermerge_compat":
				if s != CompatPre202503 {
					return errAt(val, path, "%q is not a known behaviour (known: %s)", s, CompatPre202503)
				}
				c.Compat = s
			}
			if k == "dtype" || k == "out_dtype" {
				if _, err := parseFloatDType(s); err != nil {
					return errAt(val, path, "%v", err)
				}
			}
		case "parameters":
			if val.Kind != yaml.MappingNode {
				return errAt(val, path, "must be a mapping of parameter names to values")
			}
			blocks = append(blocks, paramBlock{node: val, path: "parameters", dst: &c.Params})
		case "models":
			if val.Kind != yaml.SequenceNode {
				return errAt(val, path, "must be a list of {model: PATH, parameters: {...}}")
			}
			modelsNode = val
			c.Models = make([]Input, len(val.Content))
			for i, item := range val.Content {
				ipath := fmt.Sprintf("models[%d]", i)
				if item.Kind == yaml.ScalarNode { // a bare path, as a shorthand
					c.Models[i].Path = item.Value
					continue
				}
				if item.Kind != yaml.MappingNode {
					return errAt(item, ipath, "must be {model: PATH, parameters: {...}}")
				}
				in := &c.Models[i]
				err := eachKey(item, ipath, errAt, func(key, v *yaml.Node, p string) error {
					switch key.Value {
					case "model":
						s, err := scalarString(v)
						if err != nil {
							return errAt(v, p, "%v", err)
						}
						in.Path = s
					case "parameters":
						if v.Kind != yaml.MappingNode {
							return errAt(v, p, "must be a mapping of parameter names to values")
						}
						blocks = append(blocks, paramBlock{node: v, path: p, perModel: true, dst: &in.Params})
					default:
						return errAt(key, p, "unknown key (a model entry has model and parameters)")
					}
					return nil
				})
				if err != nil {
					return err
				}
				if in.Path == "" {
					return errAt(item, ipath, "has no model path")
				}
			}
		case "slices":
			if val.Kind != yaml.SequenceNode || len(val.Content) == 0 {
				return errAt(val, path, "must be a list of {sources: [...]}")
			}
			slicesNode = val
			var err error
			if c.Slices, blocks, err = r.parseSlices(val, blocks); err != nil {
				return err
			}
		case "tokenizer":
			tokNode = key
			t, err := r.parseTokenizer(val, path)
			if err != nil {
				return err
			}
			c.Tokenizer = t
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if methodNode == nil {
		return nil, fmt.Errorf("%s: merge_method is missing", filename)
	}
	switch {
	case modelsNode != nil && slicesNode != nil:
		return nil, errAt(slicesNode, "slices", "a config has models or slices, not both")
	case slicesNode == nil && len(c.Models) == 0:
		return nil, fmt.Errorf("%s: models (or slices) is missing or empty", filename)
	case tokNode != nil && sourceNode != nil:
		return nil, errAt(tokNode, "tokenizer", "a config has tokenizer or tokenizer_source, not both")
	}
	m, err := lookupMethod(c.Registry, c.Method)
	if err != nil {
		return nil, errAt(methodNode, "merge_method", "%v", err)
	}
	info := m.Info()
	// Parameters: names checked against the method, values converted and checked for form.
	readParams := func(n *yaml.Node, prefix string, perModel bool) (map[string]any, error) {
		out := map[string]any{}
		err := eachKey(n, prefix, errAt, func(key, val *yaml.Node, path string) error {
			name := key.Value
			c.pos[path] = r.at(val)
			var v any
			if err := val.Decode(&v); err != nil {
				return errAt(val, path, "%v", err)
			}
			if name == "seed" && prefix == "parameters" {
				if !info.Randomised {
					return errAt(key, path, "%s is not randomised, so it takes no seed", info.Name)
				}
				seed, err := parseSeed(v)
				if err != nil {
					return errAt(val, path, "%v", err)
				}
				c.Seed = seed
				return nil
			}
			spec, ok := info.spec(name)
			if !ok {
				return errAt(key, path, "unknown parameter for %s (known: %s)", info.Name, specNames(info.Params))
			}
			if perModel && !spec.PerModel {
				return errAt(key, path, "%s applies to the whole merge: set it under the top-level parameters", name)
			}
			if _, err := parseValue(spec, v, path); err != nil {
				return fmt.Errorf("%s: %v", r.at(val), err)
			}
			out[name] = v
			return nil
		})
		return out, err
	}
	for _, b := range blocks {
		if *b.dst, err = readParams(b.node, b.path, b.perModel); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parseSlices reads mergekit's slices: [{sources: [{model, layer_range, parameters}],
// parameters}].
func (r yamlReader) parseSlices(val *yaml.Node, blocks []paramBlock) ([]Slice, []paramBlock, error) {
	errAt := r.errAt
	out := make([]Slice, len(val.Content))
	for i, item := range val.Content {
		spath := fmt.Sprintf("slices[%d]", i)
		if item.Kind != yaml.MappingNode {
			return nil, nil, errAt(item, spath, "must be {sources: [...]}")
		}
		sl := &out[i]
		err := eachKey(item, spath, errAt, func(key, v *yaml.Node, p string) error {
			switch key.Value {
			case "sources":
				if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
					return errAt(v, p, "must be a list of {model, layer_range}")
				}
				sl.Sources = make([]SliceSource, len(v.Content))
				for j, src := range v.Content {
					sp := fmt.Sprintf("%s[%d]", p, j)
					if src.Kind != yaml.MappingNode {
						return errAt(src, sp, "must be {model: PATH, layer_range: [FROM, TO]}")
					}
					ss := &sl.Sources[j]
					hasRange := false
					err := eachKey(src, sp, errAt, func(key, v *yaml.Node, p string) error {
						r.pos[p] = r.at(v)
						switch key.Value {
						case "model":
							s, err := scalarString(v)
							if err != nil {
								return errAt(v, p, "%v", err)
							}
							ss.Path = s
						case "layer_range":
							var lr []int
							if err := v.Decode(&lr); err != nil || len(lr) != 2 || lr[0] < 0 || lr[1] <= lr[0] {
								return errAt(v, p, "must be [FROM, TO] with 0 <= FROM < TO")
							}
							ss.LayerRange, hasRange = [2]int{lr[0], lr[1]}, true
						case "parameters":
							if v.Kind != yaml.MappingNode {
								return errAt(v, p, "must be a mapping of parameter names to values")
							}
							blocks = append(blocks, paramBlock{node: v, path: p, perModel: true, dst: &ss.Params})
						default:
							return errAt(key, p, "unknown key (a slice source has model, layer_range and parameters)")
						}
						return nil
					})
					if err != nil {
						return err
					}
					if ss.Path == "" || !hasRange {
						return errAt(src, sp, "needs model and layer_range")
					}
				}
			case "parameters":
				if v.Kind != yaml.MappingNode {
					return errAt(v, p, "must be a mapping of parameter names to values")
				}
				blocks = append(blocks, paramBlock{node: v, path: p, dst: &sl.Params})
			case "base_model", "residual_weight":
				return errAt(key, p, "a per-slice %s is not supported; set base_model at the top level", key.Value)
			default:
				return errAt(key, p, "unknown key (a slice has sources and parameters)")
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		if len(sl.Sources) == 0 {
			return nil, nil, errAt(item, spath, "has no sources")
		}
	}
	return out, blocks, nil
}

// parseTokenizer reads mergekit's tokenizer block: {source, tokens, pad_to_multiple_of}.
func (r yamlReader) parseTokenizer(val *yaml.Node, path string) (*TokenizerConfig, error) {
	errAt := r.errAt
	if val.Kind != yaml.MappingNode {
		return nil, errAt(val, path, "must be {source: union|base|MODEL, pad_to_multiple_of: N}")
	}
	t := &TokenizerConfig{Source: "union"}
	err := eachKey(val, path, errAt, func(key, v *yaml.Node, p string) error {
		switch key.Value {
		case "source":
			s, err := scalarString(v)
			if err != nil {
				return errAt(v, p, "%v", err)
			}
			t.Source = s
		case "pad_to_multiple_of":
			var n int
			if err := v.Decode(&n); err != nil || n < 1 {
				return errAt(v, p, "must be a positive integer")
			}
			t.PadToMultipleOf = n
		case "tokens":
			if v.Kind != yaml.MappingNode {
				return errAt(v, p, "must map tokens to {source, force}")
			}
			t.Tokens = map[string]TokenEmbedding{}
			return eachKey(v, p, errAt, func(tk, tv *yaml.Node, tp string) error {
				rule := TokenEmbedding{TokenID: -1}
				if tv.Kind != yaml.MappingNode {
					return errAt(tv, tp, "must be {source: MODEL | {kind: zero} | {kind: model_token, model, token or token_id}, force: BOOL}")
				}
				err := eachKey(tv, tp, errAt, func(rk, rv *yaml.Node, rp string) error {
					switch rk.Value {
					case "force":
						if err := rv.Decode(&rule.Force); err != nil {
							return errAt(rv, rp, "must be true or false")
						}
					case "source":
						if rv.Kind == yaml.ScalarNode {
							rule.Model = rv.Value
							return nil
						}
						var src struct {
							Kind    string `yaml:"kind"`
							Model   string `yaml:"model"`
							Token   *string
							TokenID *int `yaml:"token_id"`
						}
						if err := rv.Decode(&src); err != nil {
							return errAt(rv, rp, "%v", err)
						}
						switch {
						case src.Kind == "zero" && src.Model == "" && src.Token == nil && src.TokenID == nil:
							rule.Zero = true
						case src.Kind == "model_token" && src.Model != "" && (src.Token == nil) != (src.TokenID == nil):
							rule.Model = src.Model
							if src.Token != nil {
								rule.Token = *src.Token
							} else {
								rule.TokenID = *src.TokenID
							}
						default:
							return errAt(rv, rp, "must be a model, {kind: zero}, or {kind: model_token, model, and one of token, token_id}")
						}
					default:
						return errAt(rk, rp, "unknown key (a token rule has source and force)")
					}
					return nil
				})
				t.Tokens[tk.Value] = rule
				return err
			})
		default:
			return errAt(key, p, "unknown key (a tokenizer block has source, tokens and pad_to_multiple_of)")
		}
		return nil
	})
	return t, err
}

// eachKey walks a mapping node, rejecting duplicate keys and non-string keys.
func eachKey(n *yaml.Node, prefix string, errAt func(*yaml.Node, string, string, ...any) error, fn func(key, val *yaml.Node, path string) error) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		path := key.Value
		if prefix != "" {
			path = prefix + "." + key.Value
		}
		if key.Kind != yaml.ScalarNode {
			return errAt(key, prefix, "keys must be plain names")
		}
		if seen[key.Value] {
			return errAt(key, path, "set twice")
		}
		seen[key.Value] = true
		if err := fn(key, val, path); err != nil {
			return err
		}
	}
	return nil
}

func scalarString(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", fmt.Errorf("expected a single value")
	}
	return n.Value, nil
}

func sortedKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func parseSeed(v any) (uint64, error) {
	switch x := v.(type) {
	case int:
		if x >= 0 {
			return uint64(x), nil
		}
	case int64:
		if x >= 0 {
			return uint64(x), nil
		}
	case uint64:
		return x, nil
	case uint:
		return uint64(x), nil
	case float64:
		if x >= 0 && x == math.Trunc(x) && x < 1<<53 {
			return uint64(x), nil
		}
	case string:
		if s, err := strconv.ParseUint(strings.TrimSpace(x), 10, 64); err == nil {
			return s, nil
		}
	}
	return 0, fmt.Errorf("seed must be a non-negative integer, got %v", v)
}

// parseFloatDType parses a float dtype name ("bfloat16", "F32", ...).
func parseFloatDType(s string) (tensor.DType, error) {
	dt, err := tensor.ParseDType(s)
	if err != nil {
		return tensor.Invalid, err
	}
	if !dt.IsFloat() {
		return tensor.Invalid, fmt.Errorf("dtype %s: merged tensors can be F32, F16 or BF16", dt)
	}
	return dt, nil
}

// outDType is the dtype the merged float tensors are written in (Invalid: keep each tensor's).
func (c *Config) outDType() (tensor.DType, error) {
	name := c.OutDType
	if name == "" {
		name = c.DType
	}
	if name == "" {
		return tensor.Invalid, nil
	}
	return parseFloatDType(name)
}

// settings converts the parameters to settings for the models kept (indices into c.Models),
// checking names and forms.
func (c *Config) settings(info MethodInfo, kept []int) (settings, error) {
	s, err := c.globalSettings(info)
	if err != nil {
		return s, err
	}
	for _, i := range kept {
		m, err := c.parseParams(info, c.Models[i].Params, fmt.Sprintf("models[%d].parameters", i), true)
		if err != nil {
			return s, err
		}
		s.model = append(s.model, m)
	}
	return s, nil
}

// globalSettings converts the top-level parameters.
func (c *Config) globalSettings(info MethodInfo) (settings, error) {
	s := settings{}
	if _, ok := c.Params["seed"]; ok {
		return s, fmt.Errorf("%s: set Config.Seed rather than a seed parameter", c.where("parameters.seed"))
	}
	g, err := c.parseParams(info, c.Params, "parameters", false)
	s.global = g
	return s, err
}

// parseParams converts one parameters block (path names it in messages); perModel blocks
// take only per-model parameters.
func (c *Config) parseParams(info MethodInfo, params map[string]any, path string, perModel bool) (map[string]value, error) {
	m := map[string]value{}
	for name, v := range params {
		p := path + "." + name
		spec, ok := info.spec(name)
		if !ok {
			return nil, fmt.Errorf("%s: unknown parameter for %s (known: %s)", c.where(p), info.Name, specNames(info.Params))
		}
		if perModel && !spec.PerModel {
			return nil, fmt.Errorf("%s: %s applies to the whole merge: set it under the top-level parameters", c.where(p), name)
		}
		val, err := parseValue(spec, v, c.where(p))
		if err != nil {
			return nil, err
		}
		m[name] = val
	}
	return m, nil
}

// YAML writes the config back in the mergekit schema (the merged folder keeps a copy, so the
// merge can be reproduced).
func (c *Config) YAML() ([]byte, error) {
	type model struct {
		Model      string         `yaml:"model"`
		Parameters map[string]any `yaml:"parameters,omitempty"`
	}
	type source struct {
		Model      string         `yaml:"model"`
		LayerRange [2]int         `yaml:"layer_range,flow"`
		Parameters map[string]any `yaml:"parameters,omitempty"`
	}
	type slice struct {
		Sources    []source       `yaml:"sources"`
		Parameters map[string]any `yaml:"parameters,omitempty"`
	}
	type tokenizer struct {
		Source          string         `yaml:"source"`
		Tokens          map[string]any `yaml:"tokens,omitempty"`
		PadToMultipleOf int            `yaml:"pad_to_multiple_of,omitempty"`
	}
	type doc struct {
		Name            string         `yaml:"name,omitempty"`
		MergeMethod     string         `yaml:"merge_method"`
		BaseModel       string         `yaml:"base_model,omitempty"`
		Models          []model        `yaml:"models,omitempty"`
		Slices          []slice        `yaml:"slices,omitempty"`
		Parameters      map[string]any `yaml:"parameters,omitempty"`
		DType           string         `yaml:"dtype,omitempty"`
		OutDType        string         `yaml:"out_dtype,omitempty"`
		TokenizerSource string         `yaml:"tokenizer_source,omitempty"`
		Tokenizer       *tokenizer     `yaml:"tokenizer,omitempty"`
		ChatTemplate    string         `yaml:"chat_template,omitempty"`
		Compat          string         `yaml:"ordermerge_compat,omitempty"`
	}
	d := doc{Name: c.Name, MergeMethod: c.Method, BaseModel: c.Base, DType: c.DType, OutDType: c.OutDType,
		TokenizerSource: c.TokenizerSource, ChatTemplate: c.ChatTemplate, Compat: c.Compat}
	if c.Tokenizer != nil {
		d.Tokenizer = &tokenizer{Source: c.Tokenizer.Source, PadToMultipleOf: c.Tokenizer.PadToMultipleOf}
		for tok, te := range c.Tokenizer.Tokens {
			rule := map[string]any{}
			switch {
			case te.Zero:
				rule["source"] = map[string]any{"kind": "zero"}
			case te.Token != "":
				rule["source"] = map[string]any{"kind": "model_token", "model": te.Model, "token": te.Token}
			case te.TokenID >= 0 && te.Model != "":
				rule["source"] = map[string]any{"kind": "model_token", "model": te.Model, "token_id": te.TokenID}
			case te.Model != "":
				rule["source"] = te.Model
			}
			if te.Force {
				rule["force"] = true
			}
			if d.Tokenizer.Tokens == nil {
				d.Tokenizer.Tokens = map[string]any{}
			}
			d.Tokenizer.Tokens[tok] = rule
		}
	}
	d.Parameters = plainParams(c.Params)
	if info, ok := c.Registry.Lookup(c.Method); ok && info.Randomised {
		if d.Parameters == nil {
			d.Parameters = map[string]any{}
		}
		d.Parameters["seed"] = c.Seed
	}
	for _, m := range c.Models {
		d.Models = append(d.Models, model{Model: m.Path, Parameters: plainParams(m.Params)})
	}
	for _, sl := range c.Slices {
		o := slice{Parameters: plainParams(sl.Params)}
		for _, src := range sl.Sources {
			o.Sources = append(o.Sources, source{Model: src.Path, LayerRange: src.LayerRange, Parameters: plainParams(src.Params)})
		}
		d.Slices = append(d.Slices, o)
	}
	return yaml.Marshal(d)
}

// plainParams turns []Filter values into the {filter, value} maps of the YAML schema.
func plainParams(p map[string]any) map[string]any {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]any, len(p))
	for k, v := range p {
		if fs, ok := v.([]Filter); ok {
			list := make([]any, len(fs))
			for i, f := range fs {
				e := map[string]any{"value": f.Value}
				if f.Filter != "" {
					e["filter"] = f.Filter
				}
				list[i] = e
			}
			v = list
		}
		out[k] = v
	}
	return out
}
