package merge

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ParamKind is the type of a method parameter.
type ParamKind int

// Parameter kinds. Number parameters take every value form (scalar, layer gradient, filter
// list); bool, integer and choice parameters take scalars and filter lists.
const (
	FloatParam ParamKind = iota
	BoolParam
	IntParam
	ChoiceParam
)

func (k ParamKind) String() string {
	switch k {
	case FloatParam:
		return "number"
	case BoolParam:
		return "bool"
	case IntParam:
		return "integer"
	case ChoiceParam:
		return "choice"
	}
	return "ParamKind(" + strconv.Itoa(int(k)) + ")"
}

// ParamSpec declares one parameter of a method.
type ParamSpec struct {
	Name string
	// PerModel parameters (weight, density) may be set for each model under
	// models[i].parameters, falling back to the top-level parameters and then to Default.
	PerModel bool
	Kind     ParamKind
	// Default is the value used when the parameter is not set: a float64 for FloatParam,
	// BoolParam (0 or 1) and IntParam, unused for ChoiceParam (DefaultChoice).
	Default       float64
	DefaultChoice string
	Choices       []string
	// Fixed parameters (granularity, resample...) hold for the whole merge: they take
	// scalars only, no layer gradients or filters.
	Fixed bool
	// Required parameters have no default: leaving one unset is an error.
	Required bool
	Doc      string
}

// Filter is one entry of a filter-list parameter value: Value applies to tensors whose name
// contains Filter ("" or "*" match every tensor). The first matching entry wins; when none
// matches, the next level (top-level parameters, then the default) is used.
type Filter struct {
	Filter string
	Value  any
}

// value is a parameter setting as written by the user: a scalar, a gradient over layers, or a
// filter list. where says where it was written, for error messages.
type value struct {
	num      float64
	str      string
	isStr    bool
	isBool   bool
	gradient []float64
	filters  []filterEntry
	where    string
}

type filterEntry struct {
	filter string
	v      value
}

// parseValue converts a Go value (from YAML, code or the command line) into a setting of the
// given kind. Accepted: numbers, bools, strings, []float64, []any of numbers (a gradient),
// []Filter, and []any of map[string]any{"filter": s, "value": v}.
func parseValue(spec ParamSpec, v any, where string) (value, error) {
	bad := func(format string, args ...any) (value, error) {
		return value{}, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
	}
	out := value{where: where}
	switch x := v.(type) {
	case nil:
		return bad("has no value")
	case bool:
		if spec.Kind != BoolParam {
			return bad("expected a %s, got %v", spec.Kind, x)
		}
		out.isBool = true
		if x {
			out.num = 1
		}
		return out, nil
	case string:
		if spec.Kind == ChoiceParam {
			for _, c := range spec.Choices {
				if x == c {
					out.isStr, out.str = true, x
					return out, nil
				}
			}
			return bad("%q is not one of %s", x, strings.Join(spec.Choices, ", "))
		}
		if spec.Kind == BoolParam {
			b, err := strconv.ParseBool(x)
			if err != nil {
				return bad("expected true or false, got %q", x)
			}
			return parseValue(spec, b, where)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return bad("expected a %s, got %q", spec.Kind, x)
		}
		return parseValue(spec, f, where)
	case []float64:
		anys := make([]any, len(x))
		for i, f := range x {
			anys[i] = f
		}
		return parseValue(spec, anys, where)
	case []Filter:
		anys := make([]any, len(x))
		for i, f := range x {
			anys[i] = f
		}
		return parseValue(spec, anys, where)
	case []any:
		if len(x) == 0 {
			return bad("is an empty list")
		}
		if _, isNum := toFloat(x[0]); isNum {
			if spec.Fixed || spec.Kind != FloatParam {
				return bad("a %s parameter takes a single value, not a list", kindWord(spec))
			}
			for i, e := range x {
				f, ok := toFloat(e)
				if !ok {
					return bad("gradient entry %d is %v, not a number", i, e)
				}
				if math.IsNaN(f) || math.IsInf(f, 0) {
					return bad("gradient entry %d is %v", i, f)
				}
				out.gradient = append(out.gradient, f)
			}
			return out, nil
		}
		if spec.Fixed {
			return bad("a %s parameter takes a single value, not a list", kindWord(spec))
		}
		for i, e := range x {
			var f Filter
			switch m := e.(type) {
			case Filter:
				f = m
			case map[string]any:
				for k := range m {
					if k != "filter" && k != "value" {
						return bad("entry %d: unknown key %q (a filter entry has filter and value)", i, k)
					}
				}
				val, ok := m["value"]
				if !ok {
					return bad("entry %d has no value", i)
				}
				f.Value = val
				if s, ok := m["filter"]; ok && s != nil {
					str, isStr := s.(string)
					if !isStr {
						return bad("entry %d: filter must be a string", i)
					}
					f.Filter = str
				}
			default:
				return bad("entry %d is %v: a list is either numbers (a layer gradient) or {filter, value} entries", i, e)
			}
			if _, nested := f.Value.([]any); nested && spec.Kind != FloatParam {
				return bad("entry %d: a %s parameter takes a single value", i, kindWord(spec))
			}
			inner, err := parseValue(spec, f.Value, fmt.Sprintf("%s[%d].value", where, i))
			if err != nil {
				return value{}, err
			}
			if len(inner.filters) > 0 {
				return bad("entry %d: filter lists cannot nest", i)
			}
			out.filters = append(out.filters, filterEntry{filter: f.Filter, v: inner})
		}
		return out, nil
	}
	f, ok := toFloat(v)
	if !ok {
		return bad("unsupported value %v (%T)", v, v)
	}
	switch spec.Kind {
	case BoolParam:
		return bad("expected true or false, got %v", v)
	case ChoiceParam:
		return bad("expected one of %s, got %v", strings.Join(spec.Choices, ", "), v)
	case IntParam:
		if f != math.Trunc(f) || math.IsInf(f, 0) {
			return bad("expected an integer, got %v", v)
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return bad("is %v", f)
	}
	out.num = f
	return out, nil
}

func kindWord(spec ParamSpec) string {
	if spec.Fixed {
		return "whole-merge"
	}
	return spec.Kind.String()
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint:
		return float64(x), true
	}
	return 0, false
}

// eval returns the setting's value for a tensor: ok is false when a filter list has no entry
// matching the tensor (the caller then falls back to the next level). t is the tensor's
// position in the layer stack, in [0, 1].
func (v value) eval(tensorName string, t float64) (value, bool) {
	if len(v.filters) > 0 {
		for _, f := range v.filters {
			if f.filter == "" || f.filter == "*" || strings.Contains(tensorName, f.filter) {
				return f.v.eval(tensorName, t)
			}
		}
		return value{}, false
	}
	if len(v.gradient) > 0 {
		g := v.gradient
		// Piecewise-linear over the list spread evenly on [0, 1], as mergekit evaluates it.
		scaled := t * float64(len(g)-1)
		i0 := int(scaled)
		if i0 > len(g)-1 {
			i0 = len(g) - 1
		}
		i1 := min(len(g)-1, i0+1)
		frac := scaled - float64(i0)
		return value{num: (1-frac)*g[i0] + frac*g[i1], where: v.where}, true
	}
	return v, true
}

// layerPattern finds the block index in a tensor name: model.layers.N., transformer.h.N.,
// blocks.N., encoder.layer.N.
var layerPattern = regexp.MustCompile(`(?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\.`)

// layerIndex returns the layer a tensor belongs to, or -1.
func layerIndex(name string) int {
	m := layerPattern.FindStringSubmatch(name)
	if m == nil {
		return -1
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return -1
	}
	return n
}

// layerT is the position of a tensor for layer gradients, as mergekit computes it: layer i of
// L gets i/(L-1) (1 when L is 1). Tensors outside the layers (embeddings, the final norm,
// lm_head) get 0, so they take a gradient's first value, as mergekit does since fd5eb19
// (2025-03; the behaviour of mergekit 0.1.4). With legacy (CompatPre202503), the tensors
// after the layers get 1 instead, as in mergekit before that change.
func layerT(name string, numLayers int, legacy bool) float64 {
	i := layerIndex(name)
	if i < 0 {
		if legacy && !isPreLayer(name) {
			return 1
		}
		return 0
	}
	if numLayers <= 1 {
		return 1
	}
	return math.Min(1, float64(i)/float64(numLayers-1))
}

// isPreLayer says a tensor outside the layers comes before them (the embeddings: the name
// contains "embed", "wte" or "wpe"); the others (final norm, lm_head) come after.
func isPreLayer(name string) bool {
	return strings.Contains(name, "embed") || strings.Contains(name, "wte") || strings.Contains(name, "wpe")
}

// settings holds the parameter values as written: top-level ones and each model's.
type settings struct {
	global map[string]value
	model  []map[string]value // per model, possibly nil maps
	// mid, when set, holds per model the parameters of its slice: looked up after the
	// model's own and before the top-level ones.
	mid []map[string]value
	// base holds the per-model parameters written for the base (a models entry naming the
	// base's folder), or is nil.
	base map[string]value
}

// TensorParams are a method's parameters resolved for one tensor: every parameter has a concrete
// value (set by the user or the default). Methods read them by name.
type TensorParams struct {
	tensor string
	specs  map[string]ParamSpec
	num    map[string]float64
	str    map[string]string
	where  map[string]string
	model  map[string][]float64
	mwhere map[string][]string
	base   map[string]float64 // per-model parameters' values for the base
}

// resolve evaluates every parameter of specs for one tensor, for the models present (indices
// into settings.model). t is the tensor's position in the layer stack.
func (s settings) resolve(specs []ParamSpec, tensorName string, t float64, present []int) (*TensorParams, error) {
	p := &TensorParams{
		tensor: tensorName, specs: map[string]ParamSpec{},
		num: map[string]float64{}, str: map[string]string{}, where: map[string]string{},
		model: map[string][]float64{}, mwhere: map[string][]string{}, base: map[string]float64{},
	}
	for _, sp := range specs {
		p.specs[sp.Name] = sp
		global, gok := s.lookupGlobal(sp, tensorName, t)
		if len(present) > 0 {
			if v, ok := s.lookupMid(present[0], sp, tensorName, t); ok {
				global, gok = v, true // every model of a tensor is in the same slice
			}
		}
		if !sp.PerModel {
			switch {
			case gok:
				p.num[sp.Name], p.str[sp.Name], p.where[sp.Name] = global.num, global.str, global.where
			case sp.Required:
				return nil, fmt.Errorf("parameter %s has no value for this tensor (no filter matches it and there is no default)", sp.Name)
			default:
				p.num[sp.Name], p.str[sp.Name], p.where[sp.Name] = sp.Default, sp.DefaultChoice, "default "+sp.Name
			}
			continue
		}
		// The base's own value: written for it, else the top-level one, else the default (as
		// mergekit plans a base it appends to the inputs).
		p.base[sp.Name] = sp.Default
		if bv, set := s.base[sp.Name]; set {
			if v, ok := bv.eval(tensorName, t); ok {
				p.base[sp.Name] = v.num
			} else if gok {
				p.base[sp.Name] = global.num
			}
		} else if gok {
			p.base[sp.Name] = global.num
		}
		vals := make([]float64, len(present))
		wheres := make([]string, len(present))
		for k, i := range present {
			var v value
			ok := false
			if i < len(s.model) && s.model[i] != nil {
				if mv, set := s.model[i][sp.Name]; set {
					v, ok = mv.eval(tensorName, t)
				}
			}
			if !ok && gok {
				v, ok = global, true
			}
			switch {
			case ok:
				vals[k], wheres[k] = v.num, v.where
			case sp.Required:
				return nil, fmt.Errorf("parameter %s has no value for model %d and this tensor", sp.Name, i)
			default:
				vals[k], wheres[k] = sp.Default, "default "+sp.Name
			}
		}
		p.model[sp.Name], p.mwhere[sp.Name] = vals, wheres
	}
	return p, nil
}

func (s settings) lookupMid(model int, sp ParamSpec, tensorName string, t float64) (value, bool) {
	if model >= len(s.mid) || s.mid[model] == nil {
		return value{}, false
	}
	v, set := s.mid[model][sp.Name]
	if !set {
		return value{}, false
	}
	return v.eval(tensorName, t)
}

func (s settings) lookupGlobal(sp ParamSpec, tensorName string, t float64) (value, bool) {
	v, set := s.global[sp.Name]
	if !set {
		return value{}, false
	}
	return v.eval(tensorName, t)
}

// Float returns a global number parameter.
func (p *TensorParams) Float(name string) float64 { return p.num[name] }

// Bool returns a global bool parameter.
func (p *TensorParams) Bool(name string) bool { return p.num[name] != 0 }

// Int returns a global integer parameter.
func (p *TensorParams) Int(name string) int64 { return int64(p.num[name]) }

// Choice returns a global choice parameter.
func (p *TensorParams) Choice(name string) string { return p.str[name] }

// Models returns a per-model parameter, one value per model present for the tensor.
func (p *TensorParams) Models(name string) []float64 { return p.model[name] }

// Base returns a per-model parameter's value for the base model: set under the models entry
// that names the base, else the top-level value, else the default.
func (p *TensorParams) Base(name string) float64 { return p.base[name] }

// errorf reports a bad value of a global parameter, saying where it was set.
func (p *TensorParams) errorf(name string, format string, args ...any) error {
	return fmt.Errorf("%s = %v: %s", p.where[name], p.num[name], fmt.Sprintf(format, args...))
}

// modelErrorf reports a bad value of a per-model parameter for the k-th model present.
func (p *TensorParams) modelErrorf(name string, k int, format string, args ...any) error {
	return fmt.Errorf("%s = %v: %s", p.mwhere[name][k], p.model[name][k], fmt.Sprintf(format, args...))
}

// checkModelRange checks that every value of a per-model parameter lies in [lo, hi].
func (p *TensorParams) checkModelRange(name string, lo, hi float64) error {
	for k, v := range p.model[name] {
		if v < lo || v > hi {
			return p.modelErrorf(name, k, "must be in [%g, %g]", lo, hi)
		}
	}
	return nil
}

// specNames lists the parameter names of specs, sorted, for error messages.
func specNames(specs []ParamSpec) string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
