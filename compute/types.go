package compute

import "fmt"

// Param is one trainable tensor of a model: its Hugging Face name, shape, and its values and
// gradient in the memory of the model's device (F32, the product of Shape elements each, row
// major). Read and Write copy the values to and from the host.
type Param struct {
	Name  string
	Shape []int
	Value Buf
	Grad  Buf
	// NoDecay excludes the parameter from AdamW's weight decay (norm weights, biases).
	NoDecay bool
}

// Numel is the number of elements of the parameter (the product of its shape).
func (p *Param) Numel() int {
	n := 1
	for _, s := range p.Shape {
		n *= s
	}
	return n
}

// Read copies the parameter's values to a new host slice.
func (p *Param) Read() ([]float32, error) {
	v, err := Read(p.Value)
	if err != nil {
		return nil, fmt.Errorf("read parameter %s: %w", p.Name, err)
	}
	return v, nil
}

// Write sets the parameter's values from the host (len(v) == Numel()).
func (p *Param) Write(v []float32) error {
	if len(v) != p.Value.Len() {
		return fmt.Errorf("write parameter %s: %d values for a tensor of %d", p.Name, len(v), p.Value.Len())
	}
	if err := Write(p.Value, v); err != nil {
		return fmt.Errorf("write parameter %s: %w", p.Name, err)
	}
	return nil
}

// Batch is a padded micro-batch of B sequences of T tokens, ready for a forward pass.
// Sequences are right-padded, so causal attention never lets a real token see padding.
type Batch struct {
	B, T int
	// Inputs holds B*T token ids, row-major (row b is sequence b).
	Inputs []int32
	// Targets holds B*T next-token ids; a negative target marks a position without loss
	// (prompt tokens and padding). A sample's loss is the mean over its non-negative targets.
	Targets []int32
}

// Model is what the trainer trains: anything whose state is a list of named parameters on a
// device and that can compute per-sample losses and their gradients. The Llama model
// (model/llama), the gorgonia adapter and sft's TinyModel implement it.
type Model interface {
	// Device is where the parameters live; the trainer keeps the optimizer state there too
	// and runs the update with the device's AdamW.
	Device() Device
	// Params returns the parameters in a fixed order (the checkpoint order). The slice and the
	// *Param values stay the same for the model's lifetime; values and gradients are updated
	// in place.
	Params() []*Param
	// ForwardBackward computes each sample's mean loss over its non-negative targets and ADDS
	// the gradient of sum_b weights[b]*loss[b] to the parameters' Grad (so micro-batches
	// accumulate). len(weights) == b.B. It returns the per-sample losses.
	ForwardBackward(b *Batch, weights []float32) ([]float32, error)
	// Loss computes the per-sample losses without touching gradients.
	Loss(b *Batch) ([]float32, error)
	// Clone returns an independent deep copy on the same device: same parameter values, zero
	// gradients, its own scratch buffers.
	Clone() (Model, error)
}

// ModelMemory is an estimate of the device memory a model takes, by part, in bytes.
type ModelMemory struct {
	// Params counts the values and, at bf16 precision, their bfloat16 copy for the products.
	Params int64
	// Grads is the gradient buffer.
	Grads int64
	// Activations are the activations and scratch of one pass over a batch.
	Activations int64
}

// Total is the sum of the parts.
func (m ModelMemory) Total() int64 { return m.Params + m.Grads + m.Activations }

// Decoder is incremental decoding with a model: a KV cache of Batch sequences of up to MaxLen
// positions each. Extend appends tokens[b] to sequence b (nil leaves it as it is) and
// returns the logits after each extended sequence's last new token (nil for the others);
// ExtendGreedy returns instead each extended sequence's most likely next token, picked on the
// model's device (-1 for the others).
type Decoder interface {
	Extend(tokens [][]int32) ([][]float32, error)
	ExtendGreedy(tokens [][]int32) ([]int32, error)
	MaxLen() int
}
