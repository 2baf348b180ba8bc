package compute

// Param is one trainable tensor of a model: its Hugging Face name, shape, values and the
// gradient accumulated by backward passes. Data and Grad have the same length, the product of
// Shape, and are row-major float32.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	Grad  []float32
	// NoDecay excludes the parameter from AdamW's weight decay (norm weights, biases).
	NoDecay bool
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

// Model is what the trainer trains: anything whose state is a list of named parameters and
// that can compute per-sample losses and their gradients. The Llama model (model/llama) and the
// gorgonia adapter implement it.
type Model interface {
	// Params returns the parameters in a fixed order (the checkpoint order). The slice and the
	// *Param values stay the same for the model's lifetime; Data and Grad may be updated in place.
	Params() []*Param
	// ForwardBackward computes each sample's mean loss over its non-negative targets and ADDS
	// the gradient of sum_b weights[b]*loss[b] to the parameters' Grad (so micro-batches
	// accumulate). len(weights) == b.B. It returns the per-sample losses.
	ForwardBackward(b *Batch, weights []float32) ([]float32, error)
	// Loss computes the per-sample losses without touching gradients.
	Loss(b *Batch) ([]float32, error)
	// Clone returns an independent deep copy: same parameter values, zero gradients, its own
	// scratch buffers.
	Clone() (Model, error)
}
