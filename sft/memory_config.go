package sft

import (
	"github.com/ordermerge/ordermerge/tensor"
)

// ModelMemory lists the host memory a Llama-style model of config mc takes once built, before
// it is built: its parameters and gradients (float32 each; the CPU model allocates both, also
// for inference) and its RoPE tables (max_position_embeddings x head dimension). An absurd
// config gives an absurd estimate, never an overflow.
func ModelMemory(mc *tensor.Config) ([]tensor.MemoryItem, error) {
	n, err := tensor.LlamaParamCount(mc)
	if err != nil {
		return nil, err
	}
	return []tensor.MemoryItem{
		{What: "parameters", Bytes: tensor.MemoryBytes(float64(n), 4)},
		{What: "gradients", Bytes: tensor.MemoryBytes(float64(n), 4)},
		{What: "RoPE tables", Bytes: tensor.MemoryBytes(float64(mc.MaxPositionEmbeddings)*float64(mc.HeadDim()), 4)},
	}, nil
}

// TrainingMemory estimates what training a Llama-style model of config mc under cfg needs, so
// that a run that cannot fit is refused before anything is allocated: ModelMemory, AdamW's two
// moments, extraCopies more copies of the parameters (the base model kept while variants
// train), and the activations one micro-batch of samples of seqLen tokens keeps for the
// backward pass (residual streams, q/k/v, attention probabilities, MLP projections, and their
// gradients). It is a lower bound: the compute backend's scratch buffers come on top.
func TrainingMemory(mc *tensor.Config, cfg Config, seqLen, extraCopies int) tensor.MemoryEstimate {
	return func() ([]tensor.MemoryItem, error) {
		items, err := ModelMemory(mc)
		if err != nil {
			return nil, err
		}
		cfg.fillDefaults()
		params := float64(items[0].Bytes)
		items = append(items, tensor.MemoryItem{What: "AdamW moments", Bytes: tensor.MemoryBytes(params, 2)})
		if extraCopies > 0 {
			items = append(items, tensor.MemoryItem{What: "model copies", Bytes: tensor.MemoryBytes(params, float64(extraCopies))})
		}
		b, t := float64(cfg.MicroBatchSize), float64(max(seqLen-1, 1))
		d, f, l, h := float64(mc.HiddenSize), float64(mc.IntermediateSize), float64(mc.NumHiddenLayers), float64(mc.NumAttentionHeads)
		w := (h + 2*float64(mc.NumKeyValueHeads)) * float64(mc.HeadDim()) // q, k and v rows
		n := b * t
		perLayer := n*(3*d+w+2*f) + b*h*t*t
		acts := l*perLayer + n*(4*d+w+3*f)
		items = append(items, tensor.MemoryItem{What: "activations", Bytes: tensor.MemoryBytes(acts, 4)})
		return items, nil
	}
}
