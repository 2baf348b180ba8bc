package merge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ordermerge/ordermerge/tensor"
)

// RunOptions control a merge of checkpoint folders.
type RunOptions struct {
	// Out is the folder to create. It appears only when the merge is complete.
	Out string
	// Force replaces an existing Out (only once the new one is complete).
	Force bool
	// MaxMemory bounds the merge's buffers in bytes (0: DefaultMaxMemory).
	MaxMemory int64
	// OutShardSize splits the output into shards of at most this many bytes (0: one file).
	OutShardSize int64
	// Workers is the number of tensors merged at once (0: GOMAXPROCS, fewer when the memory
	// budget is small).
	Workers int
	// AllowMissing merges tensors that only some inputs have (see the package doc) instead of
	// rejecting them.
	AllowMissing bool
	// CheckFinite rejects NaN and ±Inf in the inputs and in the result.
	CheckFinite bool
	// Progress, if set, is called after every chunk written (never concurrently).
	Progress func(Progress)

	noMap bool // read inputs into buffers even where they could be memory-mapped (tests)
}

// ConfigFileName is the copy of the merge config written into every merged folder.
const ConfigFileName = "merge_config.yaml"

// tokenizerFiles are copied from the tokenizer source when present; configFiles from the
// base (else the first model).
var (
	tokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
		"vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja"}
	configFiles = []string{"generation_config.json"}
)

// Run merges the checkpoint folders described by cfg into opt.Out. Everything is validated
// before any tensor is read: the config, every input's headers and index, names, shapes,
// dtypes and every parameter for every tensor. The output is built in a hidden sibling folder
// and renamed into place at the end; on any error or cancellation nothing is left behind and
// the inputs are never written.
func Run(ctx context.Context, cfg *Config, opt RunOptions) (*Report, error) {
	start := time.Now()
	if cfg == nil {
		return nil, errors.New("no merge config")
	}
	if opt.Out == "" {
		return nil, errors.New("no output folder")
	}
	out, err := filepath.Abs(opt.Out)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(out); err == nil && !opt.Force {
		return nil, fmt.Errorf("%s already exists (choose another output or force overwriting)", opt.Out)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	m, err := lookupMethod(cfg.Registry, cfg.Method)
	if err != nil {
		return nil, fmt.Errorf("%s%v", cfg.prefix("merge_method"), err)
	}
	info := m.Info()
	outDT, err := cfg.outDType()
	if err != nil {
		return nil, err
	}
	var computeDT tensor.DType // mergekit's dtype is the compute dtype (see compute.go)
	if cfg.DType != "" {
		if computeDT, err = parseFloatDType(cfg.DType); err != nil {
			return nil, fmt.Errorf("%s%v", cfg.prefix("dtype"), err)
		}
	}

	if cfg.Compat != "" && cfg.Compat != CompatPre202503 {
		return nil, fmt.Errorf("%sordermerge_compat %q is not a known behaviour (known: %s)", cfg.prefix("ordermerge_compat"), cfg.Compat, CompatPre202503)
	}
	if cfg.Tokenizer != nil && cfg.TokenizerSource != "" {
		return nil, fmt.Errorf("%sa config has tokenizer or tokenizer_source, not both", cfg.prefix("tokenizer"))
	}
	if len(cfg.Slices) > 0 && len(cfg.Models) > 0 {
		return nil, fmt.Errorf("%sa config has models or slices, not both", cfg.prefix("slices"))
	}

	// Inputs: every referenced model, opened once (the base first).
	ins := &inputSet{}
	defer ins.close()
	// passthrough copies its one source per tensor: a base_model plays no part.
	useBase := cfg.Base != "" && info.Name != "passthrough"
	var base *opened
	if cfg.Base != "" {
		// Without a part in the merge (passthrough), the base still gives config.json and the
		// tokenizer, as mergekit's output config comes from base_model.
		b, err := ins.get(cfg.Base, cfg.where("base_model"))
		if err != nil {
			return nil, err
		}
		if useBase {
			base = b
		}
	}
	var kept []int
	var models []*opened
	baseEntry := -1
	for i, in := range cfg.Models {
		o, err := ins.get(in.Path, cfg.where(fmt.Sprintf("models[%d].model", i)))
		if err != nil {
			return nil, err
		}
		if o == base { // an entry naming the base is the base
			baseEntry = i
			continue
		}
		kept = append(kept, i)
		models = append(models, o)
	}
	for i, sl := range cfg.Slices {
		for j, src := range sl.Sources {
			if _, err := ins.get(src.Path, cfg.where(fmt.Sprintf("slices[%d].sources[%d].model", i, j))); err != nil {
				return nil, err
			}
		}
	}
	for _, o := range ins.list {
		if within(out, o.path) || within(o.path, out) {
			return nil, fmt.Errorf("output %s overlaps input %s: the inputs are never written", opt.Out, o.path)
		}
	}
	ins.label()
	ins.tieHeads()
	vocab, err := ins.remapVocab(cfg, base)
	if err != nil {
		return nil, err
	}
	ref := ins.list[0] // the base, else the first model: config.json and the tokenizer
	var in planInput
	outLayers := 0
	if len(cfg.Slices) > 0 {
		lay, err := ins.planSlices(cfg, info, base)
		if err != nil {
			return nil, err
		}
		in, outLayers = lay.in, lay.numLayers
	} else {
		s, err := cfg.settings(info, kept)
		if err != nil {
			return nil, err
		}
		if baseEntry >= 0 {
			// The base's own parameters (linear weighs it like a model, as mergekit does).
			bs, err := cfg.settings(info, []int{baseEntry})
			if err != nil {
				return nil, err
			}
			s.base = bs.model[0]
		}
		in = planInput{settings: s}
		if base != nil {
			in.base, in.baseLabel = base.src, base.label
		}
		for _, o := range models {
			in.models = append(in.models, o.src)
			in.labels = append(in.labels, o.label)
		}
		in.numLayers = ref.numLayers()
	}
	in.registry, in.method, in.seed, in.outDType, in.allowMissing = cfg.Registry, cfg.Method, cfg.Seed, outDT, opt.AllowMissing
	in.compute = computeDT
	in.legacyT = cfg.Compat == CompatPre202503
	pl, err := buildPlan(in)
	if err != nil {
		return nil, err
	}
	tok, err := planTokenizer(cfg, ref, ins, vocab)
	if err != nil {
		return nil, err
	}

	// Write.
	specs := make([]tensor.Spec, len(pl.tensors))
	for i, tp := range pl.tensors {
		specs[i] = tensor.Spec{Name: tp.name, DType: tp.outDType, Shape: tp.shape}
	}
	w, err := tensor.CreateCheckpoint(out, specs, tensor.CheckpointOptions{MaxShardSize: opt.OutShardSize, Overwrite: opt.Force})
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			w.Abort()
		}
	}()
	reports, err := pl.execute(ctx, writerSink{w}, runOptions{maxMemory: opt.MaxMemory, workers: opt.Workers, checkFinite: opt.CheckFinite, progress: opt.Progress, noMap: opt.noMap})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d := ref.dir(); d != "" {
		if err := copyConfigFiles(w, d, pl, outLayers); err != nil {
			return nil, err
		}
	}
	if err := tok.write(w); err != nil {
		return nil, err
	}
	if y, err := cfg.YAML(); err == nil {
		if err := w.AddFile(ConfigFileName, y); err != nil {
			return nil, err
		}
	}
	if err := w.Commit(); err != nil {
		return nil, err
	}
	committed = true
	rep := newReport(pl, reports, time.Since(start))
	rep.Output = opt.Out
	return rep, nil
}

func (c *Config) prefix(path string) string {
	if p, ok := c.pos[path]; ok {
		return p + ": "
	}
	return ""
}

type writerSink struct{ w *tensor.CheckpointWriter }

func (s writerSink) writeChunk(name string, off int64, p []byte) error {
	return s.w.WriteChunk(name, off, p)
}

func (s writerSink) ChunkPhase(name string, off int64) (phase, align int) {
	return s.w.ChunkPhase(name, off)
}

// canonical returns an absolute path with symbolic links resolved (when it exists), so the
// same folder named two ways is recognised.
func canonical(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	}
	return abs, nil
}

// within reports whether path is dir or lies inside it.
func within(path, dir string) bool {
	if path == dir {
		return true
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// shortLabels names the inputs for reports: their folder names when those are distinct, else
// the paths as given.
func shortLabels(paths []string) []string {
	out := make([]string, len(paths))
	seen := map[string]bool{}
	for i, p := range paths {
		b := filepath.Base(p)
		if seen[b] {
			return append([]string(nil), paths...)
		}
		seen[b] = true
		out[i] = b
	}
	return out
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// dirOf is the folder holding a checkpoint's extra files ("" for a single safetensors file,
// whose folder is not the model's).
func dirOf(p string) string {
	if isDir(p) {
		return p
	}
	return ""
}

// copyConfigFiles writes config.json (with torch_dtype set to the output dtype) and
// generation_config.json from the reference model's folder. config.json is edited as raw JSON
// so that every key, known or not, survives unchanged.
func copyConfigFiles(w *tensor.CheckpointWriter, dir string, pl *plan, numLayers int) error {
	cfgPath := filepath.Join(dir, tensor.ConfigFile)
	if b, err := os.ReadFile(cfgPath); err == nil {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return fmt.Errorf("%s: %w", cfgPath, err)
		}
		if dt, ok := uniformFloatDType(pl); ok {
			raw["torch_dtype"], _ = json.Marshal(dt.TorchName())
		}
		// Stacked slices change the layer count; vocabularies cut or remapped, the rows.
		if numLayers > 0 {
			raw["num_hidden_layers"], _ = json.Marshal(numLayers)
		}
		for _, tp := range pl.tensors {
			if tp.name == embedName && len(tp.shape) == 2 {
				raw["vocab_size"], _ = json.Marshal(tp.shape[0])
			}
		}
		enc, err := json.MarshalIndent(raw, "", "  ")
		if err != nil {
			return fmt.Errorf("%s: %w", cfgPath, err)
		}
		if err := w.AddFile(tensor.ConfigFile, append(enc, '\n')); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, name := range configFiles {
		if src := filepath.Join(dir, name); isFile(src) {
			if err := w.CopyFile(name, src); err != nil {
				return err
			}
		}
	}
	return nil
}

// uniformFloatDType is the dtype shared by every float output tensor, if there is one.
func uniformFloatDType(pl *plan) (tensor.DType, bool) {
	dt := tensor.Invalid
	for _, tp := range pl.tensors {
		if !tp.outDType.IsFloat() {
			continue
		}
		if dt != tensor.Invalid && tp.outDType != dt {
			return tensor.Invalid, false
		}
		dt = tp.outDType
	}
	return dt, dt != tensor.Invalid
}
