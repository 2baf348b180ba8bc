package merge

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ordermerge/ordermerge/tensor"
)

// A LoRA reference (mergekit's MODEL+ADAPTER) is a PEFT adapter folder: adapter_config.json
// and adapter_model.safetensors. Its low-rank updates are applied as the base weights are
// read, chunk by chunk, so an adapted model is never written out or held whole:
//
//	W' = W + s * B A        (s = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora)
//
// with A of shape [r, in] and B of shape [out, r]; with fan_in_fan_out the weight is stored
// transposed ([in, out]) and so is the update. The sum is computed in float64 and rounded
// once to the weight's dtype. rank_pattern and alpha_pattern override r and lora_alpha per
// module, as in PEFT.

// adapterConfig holds the keys of adapter_config.json the update depends on.
type adapterConfig struct {
	PeftType       string             `json:"peft_type"`
	R              int                `json:"r"`
	LoraAlpha      float64            `json:"lora_alpha"`
	TargetModules  json.RawMessage    `json:"target_modules"`
	FanInFanOut    bool               `json:"fan_in_fan_out"`
	UseRSLoRA      bool               `json:"use_rslora"`
	UseDoRA        bool               `json:"use_dora"`
	Bias           string             `json:"bias"`
	ModulesToSave  []string           `json:"modules_to_save"`
	RankPattern    map[string]int     `json:"rank_pattern"`
	AlphaPattern   map[string]float64 `json:"alpha_pattern"`
	LayersToXform  json.RawMessage    `json:"layers_to_transform"`
	targetList     []string
	targetRegex    *regexp.Regexp
	configFilePath string
}

// loraUpdate is one module's update.
type loraUpdate struct {
	a, b    string // tensor names in the adapter file
	r       int
	in, out int
	scale   float64
}

// loraSource applies an adapter's updates to the tensors of src as they are read.
type loraSource struct {
	src     source
	adapter *tensor.Checkpoint
	fanIn   bool
	updates map[string]loraUpdate // by weight name in src
}

// openLoRA reads the adapter in dir and checks it against src.
func openLoRA(src source, dir string) (*loraSource, error) {
	cfgPath := filepath.Join(dir, "adapter_config.json")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("LoRA adapter %s: %w", dir, err)
	}
	var ac adapterConfig
	if err := json.Unmarshal(b, &ac); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	ac.configFilePath = cfgPath
	if err := ac.check(); err != nil {
		return nil, err
	}
	ad, err := tensor.OpenCheckpoint(filepath.Join(dir, "adapter_model.safetensors"))
	if err != nil {
		return nil, fmt.Errorf("LoRA adapter %s: %w", dir, err)
	}
	ls := &loraSource{src: src, adapter: ad, fanIn: ac.FanInFanOut, updates: map[string]loraUpdate{}}
	fail := func(format string, args ...any) (*loraSource, error) {
		ad.Close()
		return nil, fmt.Errorf("LoRA adapter %s: %s", dir, fmt.Sprintf(format, args...))
	}
	for _, name := range ad.Names() {
		if strings.Contains(name, "lora_embedding_") || strings.Contains(name, "lora_magnitude") {
			return fail("tensor %s: embedding and DoRA updates are not supported", name)
		}
		module, ok := strings.CutSuffix(name, ".lora_A.weight")
		if !ok {
			if strings.HasSuffix(name, ".lora_B.weight") {
				continue
			}
			return fail("tensor %s is not a lora_A/lora_B weight (bias and modules_to_save tensors are not supported)", name)
		}
		module = strings.TrimPrefix(module, "base_model.model.")
		bName := strings.TrimSuffix(name, ".lora_A.weight") + ".lora_B.weight"
		ea, _ := ad.Entry(name)
		eb, ok := ad.Entry(bName)
		if !ok {
			return fail("%s has no matching %s", name, bName)
		}
		if !ac.targets(module) {
			return fail("module %s is not in target_modules", module)
		}
		target := module + ".weight"
		ew, ok := src.entry(target)
		if !ok {
			return fail("module %s: the model has no tensor %s", module, target)
		}
		if len(ea.Shape) != 2 || len(eb.Shape) != 2 || len(ew.Shape) != 2 || !ew.DType.IsFloat() || !ea.DType.IsFloat() || !eb.DType.IsFloat() {
			return fail("module %s: A %s, B %s and the weight %s must be 2-D float tensors", module, tensor.FormatShape(ea.Shape), tensor.FormatShape(eb.Shape), tensor.FormatShape(ew.Shape))
		}
		u := loraUpdate{a: name, b: bName, r: ea.Shape[0], in: ea.Shape[1], out: eb.Shape[0]}
		wOut, wIn := ew.Shape[0], ew.Shape[1]
		if ac.FanInFanOut {
			wOut, wIn = wIn, wOut
		}
		if eb.Shape[1] != u.r || u.in != wIn || u.out != wOut {
			return fail("module %s: A %s and B %s do not fit the weight %s (fan_in_fan_out %v)", module, tensor.FormatShape(ea.Shape), tensor.FormatShape(eb.Shape), tensor.FormatShape(ew.Shape), ac.FanInFanOut)
		}
		r, alpha := ac.rankAlpha(module)
		if r != u.r {
			return fail("module %s: A has rank %d but the config says r = %d", module, u.r, r)
		}
		if ac.UseRSLoRA {
			u.scale = alpha / math.Sqrt(float64(r))
		} else {
			u.scale = alpha / float64(r)
		}
		ls.updates[target] = u
	}
	if len(ls.updates) == 0 {
		return fail("no lora_A/lora_B weights")
	}
	return ls, nil
}

func (ac *adapterConfig) check() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", ac.configFilePath, key, fmt.Sprintf(format, args...))
	}
	switch {
	case ac.PeftType != "" && ac.PeftType != "LORA":
		return bad("peft_type", "%s adapters are not supported (LORA only)", ac.PeftType)
	case ac.R <= 0:
		return bad("r", "must be a positive rank, got %d", ac.R)
	case ac.UseDoRA:
		return bad("use_dora", "DoRA adapters are not supported")
	case ac.Bias != "" && ac.Bias != "none":
		return bad("bias", "%q: trained biases are not supported", ac.Bias)
	case len(ac.ModulesToSave) > 0:
		return bad("modules_to_save", "fully trained modules are not supported")
	case len(ac.LayersToXform) > 0 && string(ac.LayersToXform) != "null":
		return bad("layers_to_transform", "is not supported")
	}
	if ac.LoraAlpha == 0 {
		ac.LoraAlpha = 8 // PEFT's default
	}
	if len(ac.TargetModules) == 0 || string(ac.TargetModules) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(ac.TargetModules, &s); err == nil {
		re, err := regexp.Compile("^(?:" + s + ")$")
		if err != nil {
			return bad("target_modules", "%v", err)
		}
		ac.targetRegex = re
		return nil
	}
	if err := json.Unmarshal(ac.TargetModules, &ac.targetList); err != nil {
		return bad("target_modules", "must be a list of module names or a regular expression")
	}
	return nil
}

// targets says whether the module is one target_modules names (PEFT: a list entry matches the
// module name or its last components; a string is a regular expression on the whole name).
func (ac *adapterConfig) targets(module string) bool {
	switch {
	case ac.targetRegex != nil:
		return ac.targetRegex.MatchString(module)
	case ac.targetList == nil:
		return true
	}
	for _, t := range ac.targetList {
		if t == "all-linear" || module == t || strings.HasSuffix(module, "."+t) {
			return true
		}
	}
	return false
}

// rankAlpha returns the module's r and lora_alpha after rank_pattern and alpha_pattern.
func (ac *adapterConfig) rankAlpha(module string) (int, float64) {
	r, alpha := ac.R, ac.LoraAlpha
	match := func(pattern string) bool {
		re, err := regexp.Compile("(?:^|.*\\.)" + pattern + "$")
		return err == nil && re.MatchString(module)
	}
	for p, v := range ac.RankPattern {
		if match(p) {
			r = v
		}
	}
	for p, v := range ac.AlphaPattern {
		if match(p) {
			alpha = v
		}
	}
	return r, alpha
}

func (l *loraSource) names() []string { return l.src.names() }

func (l *loraSource) entry(name string) (tensor.Entry, bool) { return l.src.entry(name) }

func (l *loraSource) readAt(name string, dst []byte, off int64) error {
	if err := l.src.readAt(name, dst, off); err != nil {
		return err
	}
	u, ok := l.updates[name]
	if !ok {
		return nil
	}
	e, _ := l.src.entry(name)
	size := int64(e.DType.Size())
	if off%size != 0 || int64(len(dst))%size != 0 {
		return fmt.Errorf("tensor %s: LoRA: read of %d bytes at %d is not whole elements", name, len(dst), off)
	}
	cols := e.Shape[1]
	e0, n := int(off/size), len(dst)/int(size)
	row0, row1 := e0/cols, (e0+n+cols-1)/cols
	w := make([]float32, n)
	if err := decodeBlock(w, dst, e.DType); err != nil {
		return fmt.Errorf("tensor %s: %w", name, err)
	}
	a, err := l.readAdapter(u.a, 0, u.r)
	if err != nil {
		return err
	}
	// B's rows: the weight's rows (normal layout) or all of them (fan_in_fan_out).
	bFrom, bTo := row0, row1
	if l.fanIn {
		bFrom, bTo = 0, u.out
	}
	b, err := l.readAdapter(u.b, bFrom, bTo)
	if err != nil {
		return err
	}
	delta := make([]float64, cols)
	for row := row0; row < row1; row++ {
		clear(delta)
		if !l.fanIn {
			// delta[c] = s * sum_k B[row, k] A[k, c]
			bRow := b[(row-bFrom)*u.r : (row-bFrom+1)*u.r]
			for k, bk := range bRow {
				aRow := a[k*u.in : (k+1)*u.in]
				for c, x := range aRow {
					delta[c] += float64(bk) * float64(x)
				}
			}
		} else {
			// The weight is [in, out]: delta[c] = s * sum_k B[c, k] A[k, row]
			for c := range cols {
				var s float64
				for k := range u.r {
					s += float64(b[c*u.r+k]) * float64(a[k*u.in+row])
				}
				delta[c] = s
			}
		}
		for c := range cols {
			j := row*cols + c - e0
			if j < 0 || j >= n {
				continue
			}
			w[j] = float32(float64(w[j]) + u.scale*delta[c])
		}
	}
	encodeRounded(dst, w, e.DType)
	return nil
}

// readAdapter decodes rows [from, to) of an adapter tensor.
func (l *loraSource) readAdapter(name string, from, to int) ([]float32, error) {
	e, _ := l.adapter.Entry(name)
	cols := e.Shape[1]
	size := e.DType.Size()
	raw := make([]byte, (to-from)*cols*size)
	r, _ := l.adapter.Reader(name)
	sec, err := r.Section(name)
	if err != nil {
		return nil, err
	}
	if _, err := sec.ReadAt(raw, int64(from*cols*size)); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", r.Path(), name, err)
	}
	out := make([]float32, (to-from)*cols)
	if err := decodeBlock(out, raw, e.DType); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", r.Path(), name, err)
	}
	return out, nil
}
