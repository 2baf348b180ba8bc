package merge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ordermerge/ordermerge/tensor"
)

// Model is an in-memory model: its tensors by name.
type Model map[string]*tensor.Tensor

// Options describe an in-memory merge (Merge). Only Method and Models are required.
type Options struct {
	// Method is a registered method name: linear, parameter_selection, task_arithmetic, ties,
	// dare_linear, dare_ties, slerp, model_stock.
	Method string
	// Base is the base model, or nil.
	Base Model
	// Models are the models to merge.
	Models []Model
	// Names label the models in the report (default model1, model2, ...); BaseName the base
	// (default base).
	Names    []string
	BaseName string
	// Seed drives the randomised methods.
	Seed uint64
	// Weights and Densities, when set, give each model's weight and density (one per model).
	Weights   []float64
	Densities []float64
	// Params are the method's top-level parameters ("t", "lambda", "resample",
	// "granularity", ...); ModelParams, when set, hold one map of per-model parameters per
	// model. Values take the same forms as in a config file.
	Params      map[string]any
	ModelParams []map[string]any
	// OutDType is the dtype of the merged float tensors ("" keeps each tensor's dtype in the
	// base, or in the first model without a base).
	OutDType string
	// AllowMissing merges tensors that only some models have; CheckFinite rejects NaN and ±Inf.
	AllowMissing bool
	CheckFinite  bool
	// Workers is the number of tensors merged at once (0: GOMAXPROCS).
	Workers int
	// DType is the compute dtype ("bfloat16" makes linear and the task-vector methods round
	// every operation to bf16, as mergekit's dtype does); "" computes in float32, unlike a
	// config without dtype, which computes in the inputs' dtype as mergekit does.
	DType string
	// Registry holds the methods Method is looked up in (nil: the built-in methods).
	Registry *Registry
	// KeepSources keeps, for selecting methods, which model every element came from, in
	// TensorReport.Source (one byte per element).
	KeepSources bool
}

// Merge merges in-memory models with one call and returns the merged model and a report. The
// merged tensors are new; the inputs are not modified. The result is byte-for-byte the same as
// merging the same tensors from checkpoint folders with Run in the same compute dtype (a
// config's dtype, or its inputs' dtype without one; Options.DType here, float32 by default).
func Merge(ctx context.Context, opt Options) (Model, *Report, error) {
	start := time.Now()
	m, err := lookupMethod(opt.Registry, opt.Method)
	if err != nil {
		return nil, nil, err
	}
	info := m.Info()
	k := len(opt.Models)
	if k == 0 {
		return nil, nil, errors.New("merge: no models given")
	}
	if opt.Names != nil && len(opt.Names) != k {
		return nil, nil, fmt.Errorf("merge: %d names for %d models", len(opt.Names), k)
	}
	s, err := opt.settings(info)
	if err != nil {
		return nil, nil, err
	}
	in := planInput{registry: opt.Registry, compute: tensor.F32, method: opt.Method, settings: s, seed: opt.Seed, allowMissing: opt.AllowMissing}
	if opt.DType != "" {
		if in.compute, err = parseFloatDType(opt.DType); err != nil {
			return nil, nil, fmt.Errorf("merge: DType: %w", err)
		}
	}
	if opt.OutDType != "" {
		if in.outDType, err = parseFloatDType(opt.OutDType); err != nil {
			return nil, nil, fmt.Errorf("merge: OutDType: %w", err)
		}
	}
	if opt.Base != nil {
		in.baseLabel = opt.BaseName
		if in.baseLabel == "" {
			in.baseLabel = "base"
		}
		if in.base, err = newMemorySource(in.baseLabel, opt.Base); err != nil {
			return nil, nil, err
		}
	}
	for i, model := range opt.Models {
		label := fmt.Sprintf("model%d", i+1)
		if opt.Names != nil {
			label = opt.Names[i]
		}
		src, err := newMemorySource(label, model)
		if err != nil {
			return nil, nil, err
		}
		in.models = append(in.models, src)
		in.labels = append(in.labels, label)
	}
	pl, err := buildPlan(in)
	if err != nil {
		return nil, nil, err
	}
	out := memorySink{}
	for _, tp := range pl.tensors {
		size, _ := tensor.ByteSize(tp.outDType, tp.shape)
		out[tp.name] = &tensor.Tensor{Name: tp.name, DType: tp.outDType, Shape: append([]int(nil), tp.shape...), Data: make([]byte, size)}
	}
	reports, err := pl.execute(ctx, out, runOptions{maxMemory: DefaultMaxMemory, workers: opt.Workers, checkFinite: opt.CheckFinite, keepSources: opt.KeepSources})
	if err != nil {
		return nil, nil, err
	}
	return Model(out), newReport(pl, reports, time.Since(start)), nil
}

// settings turns the options' parameters into settings.
func (opt Options) settings(info MethodInfo) (settings, error) {
	k := len(opt.Models)
	s := settings{global: map[string]value{}, model: make([]map[string]value, k)}
	for i := range s.model {
		s.model[i] = map[string]value{}
	}
	for name, v := range opt.Params {
		where := fmt.Sprintf("Params[%q]", name)
		if name == "seed" {
			return s, fmt.Errorf("%s: set Options.Seed instead", where)
		}
		spec, ok := info.spec(name)
		if !ok {
			return s, fmt.Errorf("%s: unknown parameter for %s (known: %s)", where, info.Name, specNames(info.Params))
		}
		val, err := parseValue(spec, v, where)
		if err != nil {
			return s, err
		}
		s.global[name] = val
	}
	if opt.ModelParams != nil && len(opt.ModelParams) != k {
		return s, fmt.Errorf("ModelParams: %d maps for %d models", len(opt.ModelParams), k)
	}
	for i, mp := range opt.ModelParams {
		for name, v := range mp {
			where := fmt.Sprintf("ModelParams[%d][%q]", i, name)
			spec, ok := info.spec(name)
			if !ok {
				return s, fmt.Errorf("%s: unknown parameter for %s (known: %s)", where, info.Name, specNames(info.Params))
			}
			if !spec.PerModel {
				return s, fmt.Errorf("%s: %s applies to the whole merge: set it in Params", where, name)
			}
			val, err := parseValue(spec, v, where)
			if err != nil {
				return s, err
			}
			s.model[i][name] = val
		}
	}
	for _, list := range []struct {
		name string
		vals []float64
	}{{"weight", opt.Weights}, {"density", opt.Densities}} {
		if list.vals == nil {
			continue
		}
		field := map[string]string{"weight": "Weights", "density": "Densities"}[list.name]
		if len(list.vals) != k {
			return s, fmt.Errorf("%s: %d values for %d models", field, len(list.vals), k)
		}
		spec, ok := info.spec(list.name)
		if !ok {
			return s, fmt.Errorf("%s: %s takes no %s (its parameters: %s)", field, info.Name, list.name, specNames(info.Params))
		}
		for i, v := range list.vals {
			val, err := parseValue(spec, v, fmt.Sprintf("%s[%d]", field, i))
			if err != nil {
				return s, err
			}
			s.model[i][list.name] = val
		}
	}
	return s, nil
}

// memorySink writes into preallocated tensors.
type memorySink map[string]*tensor.Tensor

func (m memorySink) writeChunk(name string, off int64, p []byte) error {
	t, ok := m[name]
	if !ok || off < 0 || off+int64(len(p)) > int64(len(t.Data)) {
		return fmt.Errorf("merge: output tensor %q: write outside its data", name)
	}
	copy(t.Data[off:], p)
	return nil
}
