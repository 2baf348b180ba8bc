// Package eval generates text from a trained model and evaluates it.
//
// Generation (generate.go) is batched and incremental: prompts go through the model once,
// then each step feeds one new token per unfinished sequence through the Llama model's KV
// cache. Decoding is greedy or sampled (temperature, top-p) from a seeded generator per
// sequence, so a prompt's continuation does not depend on which other prompts share its
// batch, and the cached and uncached paths give the same tokens.
package eval
