package merge

import (
	"fmt"
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
	// TokenizerSource names the model whose tokenizer files are copied: "" or "base" (the
	// base, else the first model), or the path of one of the inputs.
	TokenizerSource string
	// Registry holds the methods Method is looked up in (nil: the built-in methods).
	// Registry.ParseConfig and Registry.LoadConfig set it.
	Registry *Registry

	file string
	pos  map[string]string // parameter path -> "file:line:col"
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
		"dtype": true, "out_dtype": true, "tokenizer_source": true}
	mergekitOnly = map[string]string{
		"slices":        "layer slices are not supported; list whole models under models",
		"modules":       "modules are not supported; list whole models under models",
		"tokenizer":     "tokenizer building is not supported; use tokenizer_source",
		"chat_template": "chat templates are not supported; edit tokenizer_config.json after merging",
	}
)

// ParseConfig parses a YAML merge config strictly: an unknown key, an unknown parameter for the
// method, or a value of the wrong form is an error naming the key, its path and its line.
// filename is used in messages only.
func ParseConfig(data []byte, filename string) (*Config, error) {
	return parseConfig(data, filename, nil)
}

func parseConfig(data []byte, filename string, r *Registry) (*Config, error) {
	c := &Config{file: filename, pos: map[string]string{}, Registry: r}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", filename, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty config", filename)
	}
	root := doc.Content[0]
	at := func(n *yaml.Node) string { return fmt.Sprintf("%s:%d:%d", filename, n.Line, n.Column) }
	errAt := func(n *yaml.Node, path, format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", at(n), path, fmt.Sprintf(format, args...))
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: the config must be a mapping of keys (merge_method, models, ...)", at(root))
	}
	var paramsNode *yaml.Node
	var modelParams []*yaml.Node
	var methodNode *yaml.Node
	err := eachKey(root, "", errAt, func(key, val *yaml.Node, path string) error {
		k := key.Value
		if why, ok := mergekitOnly[k]; ok {
			return errAt(key, path, "%s", why)
		}
		if !topLevelKeys[k] {
			return errAt(key, path, "unknown key (known: %s)", sortedKeys(topLevelKeys))
		}
		switch k {
		case "merge_method", "base_model", "dtype", "out_dtype", "tokenizer_source":
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
				c.TokenizerSource = s
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
			paramsNode = val
		case "models":
			if val.Kind != yaml.SequenceNode {
				return errAt(val, path, "must be a list of {model: PATH, parameters: {...}}")
			}
			for i, item := range val.Content {
				ipath := fmt.Sprintf("models[%d]", i)
				if item.Kind == yaml.ScalarNode { // a bare path, as a shorthand
					c.Models = append(c.Models, Input{Path: item.Value})
					modelParams = append(modelParams, nil)
					continue
				}
				if item.Kind != yaml.MappingNode {
					return errAt(item, ipath, "must be {model: PATH, parameters: {...}}")
				}
				var in Input
				var pn *yaml.Node
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
						pn = v
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
				c.Models = append(c.Models, in)
				modelParams = append(modelParams, pn)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if methodNode == nil {
		return nil, fmt.Errorf("%s: merge_method is missing", filename)
	}
	if len(c.Models) == 0 {
		return nil, fmt.Errorf("%s: models is missing or empty", filename)
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
			c.pos[path] = at(val)
			var v any
			if err := val.Decode(&v); err != nil {
				return errAt(val, path, "%v", err)
			}
			if name == "seed" && !perModel {
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
				return fmt.Errorf("%s: %v", at(val), err)
			}
			out[name] = v
			return nil
		})
		return out, err
	}
	if paramsNode != nil {
		if c.Params, err = readParams(paramsNode, "parameters", false); err != nil {
			return nil, err
		}
	}
	for i, pn := range modelParams {
		if pn == nil {
			continue
		}
		if c.Models[i].Params, err = readParams(pn, fmt.Sprintf("models[%d].parameters", i), true); err != nil {
			return nil, err
		}
	}
	return c, nil
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
	s := settings{global: map[string]value{}}
	for name, v := range c.Params {
		path := "parameters." + name
		if name == "seed" {
			return s, fmt.Errorf("%s: set Config.Seed rather than a seed parameter", c.where(path))
		}
		spec, ok := info.spec(name)
		if !ok {
			return s, fmt.Errorf("%s: unknown parameter for %s (known: %s)", c.where(path), info.Name, specNames(info.Params))
		}
		val, err := parseValue(spec, v, c.where(path))
		if err != nil {
			return s, err
		}
		s.global[name] = val
	}
	for _, i := range kept {
		m := map[string]value{}
		for name, v := range c.Models[i].Params {
			path := fmt.Sprintf("models[%d].parameters.%s", i, name)
			spec, ok := info.spec(name)
			if !ok {
				return s, fmt.Errorf("%s: unknown parameter for %s (known: %s)", c.where(path), info.Name, specNames(info.Params))
			}
			if !spec.PerModel {
				return s, fmt.Errorf("%s: %s applies to the whole merge: set it under the top-level parameters", c.where(path), name)
			}
			val, err := parseValue(spec, v, c.where(path))
			if err != nil {
				return s, err
			}
			m[name] = val
		}
		s.model = append(s.model, m)
	}
	return s, nil
}

// YAML writes the config back in the mergekit schema (the merged folder keeps a copy, so the
// merge can be reproduced).
func (c *Config) YAML() ([]byte, error) {
	type model struct {
		Model      string         `yaml:"model"`
		Parameters map[string]any `yaml:"parameters,omitempty"`
	}
	type doc struct {
		MergeMethod     string         `yaml:"merge_method"`
		BaseModel       string         `yaml:"base_model,omitempty"`
		Models          []model        `yaml:"models"`
		Parameters      map[string]any `yaml:"parameters,omitempty"`
		DType           string         `yaml:"dtype,omitempty"`
		OutDType        string         `yaml:"out_dtype,omitempty"`
		TokenizerSource string         `yaml:"tokenizer_source,omitempty"`
	}
	d := doc{MergeMethod: c.Method, BaseModel: c.Base, DType: c.DType, OutDType: c.OutDType, TokenizerSource: c.TokenizerSource}
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
