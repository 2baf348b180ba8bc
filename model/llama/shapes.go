package llama

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ordermerge/ordermerge/tensor"
)

// checkSizes refuses configs whose sizes overflow or exceed any machine, before anything
// (the list of parameter shapes included) is built from them.
func checkSizes(c *tensor.Config) error {
	d := dimsOf(c)
	perLayer := 2 * int64(d.D) // the two norms
	for _, dims := range [][2]int{{d.W, d.D}, {d.D, d.Q}, {2 * d.F, d.D}, {d.D, d.F}} {
		n, err := tensor.Numel(dims[:])
		if err != nil {
			return fmt.Errorf("config: a layer's %d x %d matrix: %w", dims[0], dims[1], err)
		}
		perLayer += int64(n)
	}
	if c.NumHiddenLayers > 1<<20 || perLayer > (1<<62)/int64(max(c.NumHiddenLayers, 1)) {
		return fmt.Errorf("config: %d layers of %d parameters each is more than any machine holds", c.NumHiddenLayers, perLayer)
	}
	if _, err := tensor.Numel([]int{d.V, d.D}); err != nil {
		return fmt.Errorf("config: vocab_size %d x hidden_size %d: %w", d.V, d.D, err)
	}
	return nil
}

// ParamCount is the number of parameters a model of cfg has (a tied head counted once), from
// the config alone, or an error when the config is not one this model takes or its sizes
// overflow.
func ParamCount(cfg *tensor.Config) (int64, error) {
	if err := CheckConfig(cfg); err != nil {
		return 0, err
	}
	return int64(NumParamsOf(cfg)), nil
}

var layerIndex = regexp.MustCompile(`^model\.layers\.(\d+)\.`)

// CheckCheckpoint checks a checkpoint's tensors against the shapes cfg (nil: its own
// config.json) calls for, from the headers alone: a config.json beside the tensors of another
// model (a Llama-3-8B config next to a tiny model) is an error naming the first tensor that
// differs and the config's sizes, found before a model of the config's size is allocated.
func CheckCheckpoint(ck *tensor.Checkpoint, cfg *tensor.Config) error {
	if cfg == nil {
		cfg = ck.Config
	}
	if cfg == nil {
		return fmt.Errorf("%s: no %s", ck.Dir, tensor.ConfigFile)
	}
	if err := CheckConfig(cfg); err != nil {
		return fmt.Errorf("%s: %w", ck.Dir, err)
	}
	sizes := fmt.Sprintf("hidden_size %d, intermediate_size %d, num_hidden_layers %d, num_attention_heads %d, num_key_value_heads %d, vocab_size %d",
		cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers, cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.VocabSize)
	for _, s := range paramSpecs(cfg) {
		e, ok := ck.Entry(s.name)
		if !ok {
			layers := -1
			for _, n := range ck.Names() {
				if m := layerIndex.FindStringSubmatch(n); m != nil {
					if i, err := strconv.Atoi(m[1]); err == nil {
						layers = max(layers, i)
					}
				}
			}
			extra := ""
			if strings.HasPrefix(s.name, "model.layers.") {
				extra = fmt.Sprintf("; the checkpoint has %d layers", layers+1)
			}
			return fmt.Errorf("%s: config.json does not describe these tensors: %s is missing (config: %s%s)", ck.Dir, s.name, sizes, extra)
		}
		if !slices.Equal(e.Shape, s.shape) {
			return fmt.Errorf("%s: config.json does not describe these tensors: %s has shape %s, the config calls for %s (config: %s)", ck.Dir, s.name, tensor.FormatShape(e.Shape), tensor.FormatShape(s.shape), sizes)
		}
	}
	return nil
}
