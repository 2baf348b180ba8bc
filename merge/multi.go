package merge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LoadConfigs reads a YAML file of one or more merge configs (see ParseConfigs).
func LoadConfigs(path string) ([]*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfigs(b, path)
}

// MultiOptions control RunAll.
type MultiOptions struct {
	RunOptions
	// IntermediateDir holds the named merges, each in a folder of its name. A named merge
	// whose folder already holds a merged model is not merged again (as mergekit-multimerge's
	// lazy default). "" uses a temporary folder beside Out, removed at the end.
	IntermediateDir string
}

// RunAll runs the merges of a multi-merge file (mergekit-multimerge's semantics): each named
// merge is written to IntermediateDir/NAME, and a model path (base_model, models, slice
// sources, tokenizer source; with or without +LORA) equal to a merge's name refers to that
// output. The unnamed merge, else the last one, is the final merge, written to Out. Merges run
// in dependency order; a cycle is an error, reported before anything runs. It returns the
// reports in the order the merges ran.
func RunAll(ctx context.Context, cfgs []*Config, opt MultiOptions) ([]*Report, error) {
	if len(cfgs) == 0 {
		return nil, fmt.Errorf("no merge configs")
	}
	if len(cfgs) == 1 && cfgs[0].Name == "" {
		rep, err := Run(ctx, cfgs[0], opt.RunOptions)
		if err != nil {
			return nil, err
		}
		return []*Report{rep}, nil
	}
	final := len(cfgs) - 1
	byName := map[string]int{}
	for i, c := range cfgs {
		if c.Name == "" {
			final = i
			continue
		}
		if c.Name != filepath.Base(c.Name) || c.Name == "." || c.Name == ".." || strings.ContainsAny(c.Name, "+/\\") {
			return nil, fmt.Errorf("%smerge name %q must be a plain folder name", c.prefix("name"), c.Name)
		}
		if _, dup := byName[c.Name]; dup {
			return nil, fmt.Errorf("%smerge name %q is used twice", c.prefix("name"), c.Name)
		}
		byName[c.Name] = i
	}
	inter := opt.IntermediateDir
	if inter == "" {
		if opt.Out == "" {
			return nil, fmt.Errorf("no output folder")
		}
		out, err := filepath.Abs(opt.Out)
		if err != nil {
			return nil, err
		}
		tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".intermediate-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		inter = tmp
	} else if err := os.MkdirAll(inter, 0o755); err != nil {
		return nil, err
	}
	// Resolve names to folders and find each merge's dependencies.
	resolved := make([]*Config, len(cfgs))
	deps := make([][]int, len(cfgs))
	for i, c := range cfgs {
		cp := *c
		ref := func(p string) string {
			model, lora, err := splitRef(p)
			if err != nil {
				return p
			}
			j, ok := byName[model]
			if !ok {
				return p
			}
			deps[i] = append(deps[i], j)
			model = filepath.Join(inter, model)
			if lora != "" {
				return model + "+" + lora
			}
			return model
		}
		cp.Base = ref(c.Base)
		cp.Models = append([]Input(nil), c.Models...)
		for k := range cp.Models {
			cp.Models[k].Path = ref(cp.Models[k].Path)
		}
		cp.Slices = append([]Slice(nil), c.Slices...)
		for k := range cp.Slices {
			cp.Slices[k].Sources = append([]SliceSource(nil), c.Slices[k].Sources...)
			for s := range cp.Slices[k].Sources {
				cp.Slices[k].Sources[s].Path = ref(cp.Slices[k].Sources[s].Path)
			}
		}
		if cp.TokenizerSource != "" && cp.TokenizerSource != "base" && cp.TokenizerSource != "union" {
			cp.TokenizerSource = ref(cp.TokenizerSource)
		}
		if c.Tokenizer != nil && c.Tokenizer.Source != "base" && c.Tokenizer.Source != "union" {
			t := *c.Tokenizer
			t.Source = ref(t.Source)
			cp.Tokenizer = &t
		}
		resolved[i] = &cp
	}
	// Topological order from the final merge and every named one.
	var order []int
	state := make([]int, len(cfgs)) // 0 new, 1 visiting, 2 done
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return fmt.Errorf("%smerges refer to each other in a cycle through %q", cfgs[i].prefix("name"), cfgs[i].Name)
		case 2:
			return nil
		}
		state[i] = 1
		for _, j := range deps[i] {
			if j == final {
				return fmt.Errorf("%smerge %q uses the final merge's output", cfgs[i].prefix("name"), cfgs[i].Name)
			}
			if err := visit(j); err != nil {
				return err
			}
		}
		state[i] = 2
		order = append(order, i)
		return nil
	}
	for i := range cfgs {
		if i != final {
			if err := visit(i); err != nil {
				return nil, err
			}
		}
	}
	if err := visit(final); err != nil {
		return nil, err
	}
	var reps []*Report
	for _, i := range order {
		ro := opt.RunOptions
		if i != final {
			ro.Out = filepath.Join(inter, cfgs[i].Name)
			if isFile(filepath.Join(ro.Out, "config.json")) && (isFile(filepath.Join(ro.Out, "model.safetensors")) || isFile(filepath.Join(ro.Out, "model.safetensors.index.json"))) {
				continue // merged before
			}
			ro.Force = false
		}
		rep, err := Run(ctx, resolved[i], ro)
		if err != nil {
			if cfgs[i].Name != "" {
				return reps, fmt.Errorf("merge %q: %w", cfgs[i].Name, err)
			}
			return reps, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}
