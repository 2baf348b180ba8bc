package llama

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ordermerge/ordermerge/tensor"
)

// SaveOptions control how Save writes a checkpoint.
type SaveOptions struct {
	// DType of the stored tensors: tensor.F32 (also when left zero), tensor.BF16 or tensor.F16.
	// config.json's torch_dtype says which.
	DType tensor.DType
	// Overwrite replaces an existing folder (only once the new one is complete).
	Overwrite bool
	// MaxShardSize splits the tensors into shards of at most this many bytes (0: one file).
	MaxShardSize int64
}

// Save writes the model as a Hugging Face checkpoint folder (config.json + model.safetensors,
// or shards and an index) that transformers' LlamaForCausalLM loads. The folder appears only
// when complete (tensor.CreateCheckpoint); the same model gives the same bytes every time.
func (m *Model) Save(dir string, opt SaveOptions) error {
	dt := opt.DType
	if dt == tensor.Invalid {
		dt = tensor.F32
	}
	if !dt.IsFloat() {
		return fmt.Errorf("llama: save %s: dtype %s is not a float type (want F32, BF16 or F16)", dir, dt)
	}
	specs := make([]tensor.Spec, len(m.params))
	for i, p := range m.params {
		specs[i] = tensor.Spec{Name: p.Name, DType: dt, Shape: p.Shape}
	}
	w, err := tensor.CreateCheckpoint(dir, specs, tensor.CheckpointOptions{Overwrite: opt.Overwrite, MaxShardSize: opt.MaxShardSize})
	if err != nil {
		return fmt.Errorf("llama: save: %w", err)
	}
	for _, p := range m.params {
		vals, err := p.Read()
		if err != nil {
			w.Abort()
			return fmt.Errorf("llama: save %s: %w", dir, err)
		}
		buf := make([]byte, len(vals)*dt.Size())
		if err := tensor.EncodeFloat32(buf, vals, dt); err != nil {
			w.Abort()
			return fmt.Errorf("llama: save %s: tensor %s: %w", dir, p.Name, err)
		}
		if err := w.WriteTensor(p.Name, buf); err != nil {
			w.Abort()
			return fmt.Errorf("llama: save: %w", err)
		}
	}
	cfg := m.HFConfig()
	cfg.TorchDType = dt.TorchName()
	if err := w.AddConfig(cfg); err != nil {
		w.Abort()
		return fmt.Errorf("llama: save: %w", err)
	}
	if err := w.Commit(); err != nil {
		return fmt.Errorf("llama: save: %w", err)
	}
	return nil
}

// Load reads a Hugging Face Llama checkpoint folder (config.json plus model.safetensors or
// shards): ours or one written by transformers. F32, F16 and BF16 tensors load as float32.
// Every tensor the config calls for must be there with its shape; with tied embeddings a
// stored lm_head.weight is ignored (transformers ties it to the embedding too); rotary
// inv_freq buffers of older checkpoints are ignored; any other tensor is an error, since it
// means the checkpoint is not the architecture the config describes.
func Load(path string, opt Options) (*Model, error) {
	ck, err := tensor.OpenCheckpoint(path)
	if err != nil {
		return nil, fmt.Errorf("llama: load: %w", err)
	}
	defer ck.Close()
	if ck.Config == nil {
		return nil, fmt.Errorf("llama: load %s: no %s", path, tensor.ConfigFile)
	}
	// The shapes from the headers first: nothing of a config's size is allocated for a config
	// that does not describe the tensors.
	if err := CheckCheckpoint(ck, nil); err != nil {
		return nil, fmt.Errorf("llama: load %w", err)
	}
	m, err := newModel(ck.Config, opt)
	if err != nil {
		return nil, fmt.Errorf("llama: load %s: %w", path, err)
	}
	if err := m.readWeights(ck, path); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadWeights replaces the model's parameters with those of the checkpoint at path (a folder
// or a .safetensors file), under the same rules as Load; the checkpoint's config, if any, is
// not consulted, only the tensors' names and shapes.
func (m *Model) LoadWeights(path string) error {
	ck, err := tensor.OpenCheckpoint(path)
	if err != nil {
		return fmt.Errorf("llama: load: %w", err)
	}
	defer ck.Close()
	return m.readWeights(ck, path)
}

func (m *Model) readWeights(ck *tensor.Checkpoint, path string) error {
	want := make(map[string]bool, len(m.params))
	for _, p := range m.params {
		want[p.Name] = true
	}
	for _, name := range ck.Names() {
		switch {
		case want[name]:
		case strings.HasSuffix(name, ".rotary_emb.inv_freq"):
		case name == "lm_head.weight" && m.cfg.TieWordEmbeddings:
		default:
			return fmt.Errorf("llama: load %s: unexpected tensor %q (not a weight of this LlamaForCausalLM config)", path, name)
		}
	}
	for _, p := range m.params {
		e, ok := ck.Entry(p.Name)
		if !ok {
			return fmt.Errorf("llama: load %s: missing tensor %q", path, p.Name)
		}
		if !slices.Equal(e.Shape, p.Shape) {
			return fmt.Errorf("llama: load %s: tensor %q has shape %s, the config needs %s", path, p.Name, tensor.FormatShape(e.Shape), tensor.FormatShape(p.Shape))
		}
		vals, _, err := ck.ReadFloat32(p.Name)
		if err != nil {
			return fmt.Errorf("llama: load %s: %w", path, err)
		}
		if err := p.Write(vals); err != nil {
			return fmt.Errorf("llama: load %s: %w", path, err)
		}
	}
	m.refreshProd()
	return nil
}
