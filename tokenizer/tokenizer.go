package tokenizer

// Tokenizer maps text to token ids and back. Implementations are safe for concurrent use: they
// hold no mutable state after construction.
type Tokenizer interface {
	// Encode returns the ids of text. It adds no BOS/EOS; special tokens appear only where the
	// tokenizer's own rules put them (BPE matches its added tokens in the text, ByteLevel never
	// does, so user text can not forge a role marker there).
	Encode(text string) []int32
	// Decode returns the text of ids. Special tokens are written as their content (for example
	// "<|eos|>"); ids outside the vocabulary are written as "<|unk:ID|>" rather than failing, so
	// a model's raw output can always be shown.
	Decode(ids []int32) string
	// VocabSize is one more than the largest id the tokenizer can produce. A model's embedding
	// table must have at least this many rows.
	VocabSize() int
	// Special returns the id of a special token, by role name ("bos", "eos", "pad", "system",
	// "user", "assistant") or by the token's exact content (such as "<|eot_id|>").
	Special(name string) (int32, bool)
}
