package nn

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
