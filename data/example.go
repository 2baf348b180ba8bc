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
}
