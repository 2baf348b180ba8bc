package data

// Example is one tokenized sample, as the trainer consumes it: the prompt tokens followed by
// the response tokens. Loss is taken only on predicting the response (Tokens[PromptLen:]).
type Example struct {
	// ID is stable across runs and machines (it names the sample in loss records).
	ID string
	// Tokens is the prompt followed by the response, including any BOS/EOS the template adds.
	Tokens []int32
	// PromptLen is the number of leading tokens that carry no loss.
	PromptLen int
	// Loss, when set (one entry per token), says which tokens carry loss: a multi-turn chat
	// learns every assistant turn and none of the turns between. PromptLen is then the first
	// token with loss. Nil means every token from PromptLen on.
	Loss []bool `json:",omitempty"`
}
