package main

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/tensor"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// checkpointConfig returns the config of the Llama checkpoint folder dir, checked, from the
// headers only, against the checkpoint's tensors: a config.json that describes another model
// than the tensors beside it (a Llama-3-8B config next to a tiny model) is an error here, not
// an out-of-memory crash when the model it describes is allocated.
func checkpointConfig(dir string) (*tensor.Config, error) {
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	if ck.Config == nil {
		return nil, fmt.Errorf("%s: no %s (a Llama checkpoint folder has one)", dir, tensor.ConfigFile)
	}
	if err := llama.CheckConfig(ck.Config); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, tensor.ConfigFile), err)
	}
	if err := llama.CheckCheckpoint(ck, nil); err != nil {
		return nil, err
	}
	return ck.Config, nil
}

// initConfig reads and checks a config.json for a freshly initialised model.
func initConfig(path string, vocab int) (*tensor.Config, error) {
	cfg, err := tensor.ReadConfig(path)
	if err != nil {
		return nil, fmt.Errorf("--init: %w", err)
	}
	if cfg.VocabSize == 0 {
		// A fresh model's vocabulary is the tokenizer's unless the config says otherwise.
		cfg.VocabSize = vocab
	}
	if err := llama.CheckConfig(cfg); err != nil {
		return nil, fmt.Errorf("--init %s: %w", path, err)
	}
	return cfg, nil
}

// modelMemory lists what a model of cfg will take on the options' device, before it is built
// (llama.EstimateMemory): with training, for micro-batches of batch x seq tokens, AdamW's two
// moments and extra copies of the parameters and gradients (the base kept while variants
// train); without, for one sequence (a lower bound: generation's cache comes on top).
func modelMemory(opts llama.Options, cfg *tensor.Config, training bool, batch, seq, copies int) ([]tensor.MemoryItem, error) {
	mm, err := llama.EstimateMemory(opts.Device, cfg, opts.Precision, max(batch, 1), max(seq, 1), training)
	if err != nil {
		return nil, err
	}
	items := []tensor.MemoryItem{{What: "parameters", Bytes: mm.Params}, {What: "gradients", Bytes: mm.Grads}}
	if training {
		n := llama.NumParamsOf(cfg) // its sizes are checked (initConfig, checkpointConfig)
		items = append(items, tensor.MemoryItem{What: "AdamW moments", Bytes: tensor.MemoryBytes(float64(n), 8)})
	}
	items = append(items, tensor.MemoryItem{What: "activations", Bytes: mm.Activations})
	if copies > 0 {
		items = append(items, tensor.MemoryItem{What: "the base model kept meanwhile", Bytes: tensor.MemoryBytes(float64(mm.Params+mm.Grads), float64(copies))})
	}
	return items, nil
}

// checkFits refuses work whose memory does not fit where it will run: the device's free memory,
// and on the CPU the host's available memory (also bounded by a cgroup's limit: a container, a
// Slurm job).
func checkFits(dev compute.Device, work string, items []tensor.MemoryItem) error {
	st := dev.MemoryStats()
	if dev.Name() == "cpu" {
		return tensor.CheckHostMemory(work, func() ([]tensor.MemoryItem, error) { return items, nil })
	}
	if st.Free <= 0 {
		return nil // the device does not say
	}
	return tensor.CheckMemory(dev.Name()+" memory", work, st.Free, items)
}

// checkFinite refuses a model with NaN or infinite parameters: every score computed with it
// would be meaningless (a loss of NaN), so it is an error, not a result.
func checkFinite(path string, m compute.Model) error {
	for _, p := range m.Params() {
		vals, err := p.Read() // one tensor at a time, from wherever the model keeps it
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		nan, inf := 0, 0
		for _, v := range vals {
			switch f := float64(v); {
			case math.IsNaN(f):
				nan++
			case math.IsInf(f, 0):
				inf++
			}
		}
		if nan+inf > 0 {
			return fmt.Errorf("%s: tensor %s holds %d NaN and %d infinite values of %d; a model that is not finite cannot be evaluated ('ordermerge inspect --stats %s' lists every tensor)", path, p.Name, nan, inf, len(vals), path)
		}
	}
	return nil
}

// checkTokenizerPath refuses a tokenizer given as a named pipe or a device, which reading would
// wait on forever; a missing path is left to the tokenizer's own error.
func checkTokenizerPath(path string) error {
	for _, p := range []string{path, filepath.Join(path, tokenizer.FileName)} {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() {
			continue
		}
		if st.Mode()&fs.ModeType != 0 {
			return fmt.Errorf("--tokenizer %s is %s, not a regular file", p, tensor.FileKind(st.Mode()))
		}
	}
	return nil
}
