package merge

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ordermerge/ordermerge/tensor"
)

// opened is one referenced model (a folder, a single file, or a folder plus a LoRA adapter),
// open for reading.
type opened struct {
	path  string // canonical model path
	lora  string // canonical adapter folder, or ""
	ckpt  *tensor.Checkpoint
	lsrc  *loraSource // the adapter, or nil
	src   source      // the model as merged: adapter applied, tied head, vocabulary views
	label string
}

// key identifies the reference: the same model with or without an adapter are two inputs.
func (o *opened) key() string { return o.path + "+" + o.lora }

// dir is the folder of the model's extra files ("" for a single safetensors file).
func (o *opened) dir() string { return dirOf(o.path) }

// numLayers is the model's layer count: config.json's num_hidden_layers, else the names.
func (o *opened) numLayers() int {
	if o.ckpt.Config != nil && o.ckpt.Config.NumHiddenLayers > 0 {
		return o.ckpt.Config.NumHiddenLayers
	}
	n := 0
	for _, name := range o.src.names() {
		n = max(n, layerIndex(name)+1)
	}
	return n
}

// inputSet opens every model a config references, once each.
type inputSet struct {
	list  []*opened
	byKey map[string]*opened
}

func (s *inputSet) close() {
	for _, o := range s.list {
		o.ckpt.Close()
		if o.lsrc != nil {
			o.lsrc.adapter.Close()
		}
	}
}

// splitRef splits mergekit's "MODEL+LORA" reference.
func splitRef(ref string) (model, lora string, err error) {
	parts := strings.Split(ref, "+")
	switch len(parts) {
	case 1:
		return ref, "", nil
	case 2:
		if parts[0] == "" || parts[1] == "" {
			break
		}
		return parts[0], parts[1], nil
	}
	return "", "", fmt.Errorf("%q: a model reference is PATH or PATH+LORA_PATH", ref)
}

// get opens the model a reference names (once), where says where it was named.
func (s *inputSet) get(ref, where string) (*opened, error) {
	model, lora, err := splitRef(ref)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	o := &opened{}
	if o.path, err = canonical(model); err != nil {
		return nil, err
	}
	if lora != "" {
		if o.lora, err = canonical(lora); err != nil {
			return nil, err
		}
	}
	if prev, ok := s.byKey[o.key()]; ok {
		return prev, nil
	}
	c, err := tensor.OpenCheckpoint(o.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %s: no such checkpoint folder or file (ordermerge reads local checkpoints only)", where, model)
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	o.ckpt = c
	o.src = checkpointSource{label: o.path, ckpt: c}
	if o.lora != "" {
		if o.lsrc, err = openLoRA(o.src, o.lora); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		o.src = o.lsrc
	}
	if s.byKey == nil {
		s.byKey = map[string]*opened{}
	}
	s.byKey[o.key()] = o
	s.list = append(s.list, o)
	return o, nil
}

// label names the inputs for reports: their folder names when those are distinct, else the
// paths; a LoRA reference as MODEL+ADAPTER.
func (s *inputSet) label() {
	paths := make([]string, len(s.list))
	for i, o := range s.list {
		paths[i] = o.path
		if o.lora != "" {
			paths[i] += "+" + o.lora
		}
	}
	short := make([]string, len(paths))
	for i, o := range s.list {
		short[i] = filepath.Base(o.path)
		if o.lora != "" {
			short[i] += "+" + filepath.Base(o.lora)
		}
	}
	seen := map[string]bool{}
	for _, l := range short {
		if seen[l] {
			short = paths
			break
		}
		seen[l] = true
	}
	for i, o := range s.list {
		o.label = short[i]
	}
}

// Tensor names of a tied model's head and embeddings (Llama-style checkpoints).
const (
	headName  = "lm_head.weight"
	embedName = "model.embed_tokens.weight"
)

// tieHeads lets a model with tied embeddings (no lm_head tensor) contribute its embeddings as
// lm_head when another input has one, as mergekit does.
func (s *inputSet) tieHeads() {
	anyHead := false
	for _, o := range s.list {
		if _, ok := o.src.entry(headName); ok {
			anyHead = true
		}
	}
	if !anyHead {
		return
	}
	for _, o := range s.list {
		_, hasHead := o.src.entry(headName)
		_, hasEmbed := o.src.entry(embedName)
		tied := o.ckpt.Config != nil && o.ckpt.Config.TieWordEmbeddings
		if hasHead || !hasEmbed || !tied {
			continue
		}
		v := newRenamedSource(o.src)
		for _, n := range o.src.names() {
			v.add(n, n)
		}
		v.add(headName, embedName)
		o.src = v
	}
}

// remapVocab, when the config names a tokenizer source, maps every input's embedding rows to
// the output vocabulary (see permuteEmbeddings). base may be nil.
func (s *inputSet) remapVocab(cfg *Config, base *opened) (*outputVocab, error) {
	srcName, pad := cfg.TokenizerSource, 0
	if cfg.Tokenizer != nil {
		srcName, pad = cfg.Tokenizer.Source, cfg.Tokenizer.PadToMultipleOf
	}
	if srcName == "" {
		return nil, nil
	}
	// The inputs, the base (else the first model) first: its tokenizer is the union's start.
	order := append([]*opened(nil), s.list...)
	if base != nil {
		for i, o := range order {
			if o == base {
				order[0], order[i] = order[i], order[0]
			}
		}
	}
	vocabs := make([]*vocabulary, len(order))
	srcs := make([]source, len(order))
	for i, o := range order {
		if o.dir() == "" {
			return nil, fmt.Errorf("%stokenizer_source: %s is a single file, with no tokenizer", cfg.prefix("tokenizer_source"), o.path)
		}
		limit := 0
		if o.ckpt.Config != nil {
			limit = o.ckpt.Config.VocabSize
		}
		v, err := readVocabulary(o.dir(), limit)
		if errors.Is(err, errNoTokenizer) && i > 0 {
			// As mergekit does: a model without a tokenizer shares the first one's.
			v, err = &vocabulary{ids: vocabs[0].ids, added: vocabs[0].added}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%stokenizer_source: %w", cfg.prefix("tokenizer_source"), err)
		}
		vocabs[i], srcs[i] = v, o.src
	}
	idx := 0
	switch srcName {
	case "base", "union":
	default:
		p, err := canonical(srcName)
		if err != nil {
			return nil, err
		}
		idx = -1
		for i, o := range order {
			if o.path == p && idx < 0 {
				idx = i
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("%stokenizer_source %s is not one of the merged models", cfg.prefix("tokenizer_source"), srcName)
		}
	}
	var extra []string
	var tokens map[string]TokenEmbedding
	if cfg.Tokenizer != nil {
		tokens = cfg.Tokenizer.Tokens
		for tok := range tokens {
			extra = append(extra, tok)
		}
		sort.Strings(extra)
	}
	ov := buildOutputVocab(srcName, idx, vocabs, pad, extra)
	rules := map[int]tokenRule{}
	for tok, te := range tokens {
		where := fmt.Sprintf("%stokenizer.tokens[%q]", cfg.prefix("tokenizer"), tok)
		r := tokenRule{zero: te.Zero, force: te.Force, row: -1}
		if te.Model != "" {
			p, err := canonical(te.Model)
			if err != nil {
				return nil, err
			}
			r.model = -1
			for i, o := range order {
				if o.path == p && r.model < 0 {
					r.model = i
				}
			}
			if r.model < 0 {
				return nil, fmt.Errorf("%s: %s is not one of the merged models", where, te.Model)
			}
			switch {
			case te.Token != "":
				id, ok := vocabs[r.model].ids[te.Token]
				if !ok {
					return nil, fmt.Errorf("%s: %s has no token %q", where, te.Model, te.Token)
				}
				r.row = id
			case te.TokenID >= 0:
				r.row = te.TokenID
			}
		} else if !te.Zero {
			if te.Force {
				return nil, fmt.Errorf("%s: force needs a source", where)
			}
			continue // the default rule
		}
		rules[ov.ids[tok]] = r
	}
	views, err := permuteEmbeddings(srcs, vocabs, ov, base != nil, rules)
	if err != nil {
		return nil, fmt.Errorf("%stokenizer_source: %w", cfg.prefix("tokenizer_source"), err)
	}
	for i, o := range order {
		o.src = views[i]
	}
	return ov, nil
}

// renameLayer returns name with its layer index replaced by to.
func renameLayer(name string, to int) string {
	loc := layerPattern.FindStringSubmatchIndex(name)
	if loc == nil {
		return name
	}
	return name[:loc[2]] + strconv.Itoa(to) + name[loc[3]:]
}

// sliceLayout is the plan input of a sliced config, and the output's layer count.
type sliceLayout struct {
	in        planInput
	numLayers int
}

// planSlices lays out a sliced config: every (slice, source) pair other than the base is one
// plan input showing its layers under their output names; the base's pairs form the base.
func (s *inputSet) planSlices(cfg *Config, info MethodInfo, base *opened) (sliceLayout, error) {
	var lay sliceLayout
	in := &lay.in
	in.sliced, in.owners, in.t = true, map[string][]int{}, map[string]float64{}
	var baseView *renamedSource
	if base != nil {
		baseView = newRenamedSource(base.src)
	}
	glob, err := cfg.globalSettings(info)
	if err != nil {
		return lay, err
	}
	in.settings = glob
	seen := map[string]bool{}
	addName := func(n string) {
		if !seen[n] {
			seen[n] = true
			in.order = append(in.order, n)
		}
	}
	type pair struct {
		o    *opened
		view *renamedSource
		idx  int // plan model index, -1 for the base
	}
	slicePairs := make([][]pair, len(cfg.Slices))
	var baseParams map[string]any
	for i, sl := range cfg.Slices {
		var mid map[string]value
		if len(sl.Params) > 0 {
			if mid, err = cfg.parseParams(info, sl.Params, fmt.Sprintf("slices[%d].parameters", i), false); err != nil {
				return lay, err
			}
		}
		n := sl.Sources[0].LayerRange[1] - sl.Sources[0].LayerRange[0]
		used := map[*opened]bool{}
		for j, src := range sl.Sources {
			where := fmt.Sprintf("slices[%d].sources[%d]", i, j)
			o, err := s.get(src.Path, cfg.where(where+".model"))
			if err != nil {
				return lay, err
			}
			if used[o] {
				return lay, fmt.Errorf("%s: %s is already a source of this slice", cfg.where(where+".model"), src.Path)
			}
			used[o] = true
			lr := src.LayerRange
			if lr[1]-lr[0] != n {
				return lay, fmt.Errorf("%s: %d layers, but the slice's first source has %d (all sources of a slice have the same number)", cfg.where(where+".layer_range"), lr[1]-lr[0], n)
			}
			if l := o.numLayers(); lr[1] > l {
				return lay, fmt.Errorf("%s: [%d, %d) is beyond the %d layers of %s", cfg.where(where+".layer_range"), lr[0], lr[1], l, src.Path)
			}
			pr := pair{o: o, view: baseView, idx: -1}
			if o != base {
				pr.view = newRenamedSource(o.src)
				pr.idx = len(in.models)
				in.models = append(in.models, pr.view)
				in.labels = append(in.labels, fmt.Sprintf("%s[%d:%d]", o.label, lr[0], lr[1]))
				m, err := cfg.parseParams(info, src.Params, where+".parameters", true)
				if err != nil {
					return lay, err
				}
				in.settings.model = append(in.settings.model, m)
				in.settings.mid = append(in.settings.mid, mid)
			} else if len(src.Params) > 0 {
				// The base's own parameters (linear weighs it like a model): one set for the merge.
				m, err := cfg.parseParams(info, src.Params, where+".parameters", true)
				if err != nil {
					return lay, err
				}
				if in.settings.base != nil && fmt.Sprint(src.Params) != fmt.Sprint(baseParams) {
					return lay, fmt.Errorf("%s: the base model's parameters differ between slices (not supported)", cfg.where(where+".parameters"))
				}
				in.settings.base, baseParams = m, src.Params
			}
			slicePairs[i] = append(slicePairs[i], pr)
		}
	}
	owners := func(ps []pair, name string) {
		for _, pr := range ps {
			if pr.idx >= 0 {
				in.owners[name] = append(in.owners[name], pr.idx)
			}
		}
	}
	// Before the layers: the first slice's sources; after them: the last slice's.
	outer := func(ps []pair, pre bool) {
		for _, pr := range ps {
			for _, n := range pr.o.src.names() {
				if layerIndex(n) < 0 && isPreLayer(n) == pre {
					pr.view.add(n, n)
					if !seen[n] {
						addName(n)
						owners(ps, n)
						in.t[n] = layerT(n, 1, cfg.Compat == CompatPre202503 && !pre)
					}
				}
			}
		}
	}
	outer(slicePairs[0], true)
	out := 0
	for i, sl := range cfg.Slices {
		n := sl.Sources[0].LayerRange[1] - sl.Sources[0].LayerRange[0]
		for k := range n {
			t := 1.0
			if n > 1 {
				t = float64(k) / float64(n-1)
			}
			for j, pr := range slicePairs[i] {
				from := sl.Sources[j].LayerRange[0] + k
				for _, name := range pr.o.src.names() {
					if layerIndex(name) != from {
						continue
					}
					to := renameLayer(name, out)
					pr.view.add(to, name)
					if !seen[to] {
						addName(to)
						owners(slicePairs[i], to)
						in.t[to] = t
					}
				}
			}
			out++
		}
	}
	outer(slicePairs[len(slicePairs)-1], false)
	if base != nil {
		in.base, in.baseLabel = baseView, base.label
	}
	lay.numLayers = out
	return lay, nil
}
