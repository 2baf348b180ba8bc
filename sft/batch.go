package sft

import (
	"fmt"
	"github.com/ordermerge/ordermerge/compute"

	"github.com/ordermerge/ordermerge/data"
)

// PrepareExamples checks examples before training and applies the length policy. Every
// example needs at least one response token that is predicted (len(Tokens) >= 2 and
// PromptLen < len(Tokens)); ids must be unique.
//
// A sample longer than maxLen tokens (maxLen 0: no limit) is refused with an error naming it,
// unless truncate is set: then it keeps its first maxLen tokens (its response loses its end)
// and is counted in the returned number. A sample whose prompt alone fills maxLen tokens has
// nothing left to learn and is refused either way. The input slice is not modified; truncated
// samples share their token arrays with the input.
func PrepareExamples(examples []data.Example, maxLen int, truncate bool) ([]data.Example, int, error) {
	if len(examples) == 0 {
		return nil, 0, fmt.Errorf("no training examples (the dataset is empty)")
	}
	out := make([]data.Example, len(examples))
	seen := make(map[string]bool, len(examples))
	truncated := 0
	for i, ex := range examples {
		name := fmt.Sprintf("sample %q (#%d)", ex.ID, i)
		switch {
		case ex.ID == "":
			return nil, 0, fmt.Errorf("sample #%d has no id (ids name samples in the loss records)", i)
		case seen[ex.ID]:
			return nil, 0, fmt.Errorf("%s: id appears twice (ids must be unique)", name)
		case ex.PromptLen < 0:
			return nil, 0, fmt.Errorf("%s: negative prompt length %d", name, ex.PromptLen)
		case len(ex.Tokens) < 2 || ex.PromptLen >= len(ex.Tokens):
			return nil, 0, fmt.Errorf("%s: no response token to learn (%d tokens, prompt %d)", name, len(ex.Tokens), ex.PromptLen)
		case ex.Loss != nil && len(ex.Loss) != len(ex.Tokens):
			return nil, 0, fmt.Errorf("%s: loss mask of %d entries for %d tokens", name, len(ex.Loss), len(ex.Tokens))
		}
		seen[ex.ID] = true
		for j, tok := range ex.Tokens {
			if tok < 0 {
				return nil, 0, fmt.Errorf("%s: token %d is negative (%d)", name, j, tok)
			}
		}
		if maxLen > 0 && len(ex.Tokens) > maxLen {
			if !truncate {
				return nil, 0, fmt.Errorf("%s has %d tokens, more than the maximum sequence length %d (raise it, or allow truncation)", name, len(ex.Tokens), maxLen)
			}
			if ex.PromptLen >= maxLen-1 {
				return nil, 0, fmt.Errorf("%s: its prompt of %d tokens leaves no response token within the maximum sequence length %d", name, ex.PromptLen, maxLen)
			}
			ex.Tokens = ex.Tokens[:maxLen:maxLen]
			if ex.Loss != nil {
				ex.Loss = ex.Loss[:maxLen:maxLen]
			}
			truncated++
		}
		if responseTokens(ex) == 0 {
			return nil, 0, fmt.Errorf("%s: its loss mask leaves no token to learn", name)
		}
		out[i] = ex
	}
	return out, truncated, nil
}

// responseTokens is the number of positions that carry loss for ex (the predicted response
// tokens): every token from max(PromptLen, 1) on that its Loss mask (if any) marks, since
// token 0 is never predicted.
func responseTokens(ex data.Example) int {
	n := 0
	for t := max(ex.PromptLen, 1); t < len(ex.Tokens); t++ {
		if learns(ex, t) {
			n++
		}
	}
	return n
}

// learns reports whether token t of ex carries loss.
func learns(ex data.Example, t int) bool {
	return t >= ex.PromptLen && (ex.Loss == nil || ex.Loss[t])
}

// PackBatch turns examples into one right-padded batch. A sample of L tokens fills L-1
// positions: input t is Tokens[t], its target is Tokens[t+1] when that is a response token,
// -1 otherwise; padding positions get input padID and target -1. T is the longest sample's
// L-1, so no position is wasted beyond the batch's own longest sample.
func PackBatch(examples []data.Example, padID int32) *compute.Batch {
	t := 0
	for _, ex := range examples {
		t = max(t, len(ex.Tokens)-1)
	}
	b := &compute.Batch{B: len(examples), T: t, Inputs: make([]int32, len(examples)*t), Targets: make([]int32, len(examples)*t)}
	packInto(b, examples, padID)
	return b
}

// packInto fills b (already sized for examples) in place.
func packInto(b *compute.Batch, examples []data.Example, padID int32) {
	for i, ex := range examples {
		in := b.Inputs[i*b.T : (i+1)*b.T]
		tg := b.Targets[i*b.T : (i+1)*b.T]
		n := len(ex.Tokens) - 1
		for t := 0; t < b.T; t++ {
			if t >= n {
				in[t], tg[t] = padID, -1
				continue
			}
			in[t] = ex.Tokens[t]
			if learns(ex, t+1) {
				tg[t] = ex.Tokens[t+1]
			} else {
				tg[t] = -1
			}
		}
	}
}

// batcher packs micro-batches into one reused buffer (llm.c's habit: allocate once, reuse
// every step), growing it only when a larger batch comes. A model must not keep a batch after
// its call returns (compute.Model's calls are synchronous).
type batcher struct {
	padID   int32
	batch   compute.Batch
	inputs  []int32
	targets []int32
}

func (bt *batcher) pack(examples []data.Example) *compute.Batch {
	t := 0
	for _, ex := range examples {
		t = max(t, len(ex.Tokens)-1)
	}
	n := len(examples) * t
	if cap(bt.inputs) < n {
		bt.inputs, bt.targets = make([]int32, n), make([]int32, n)
	}
	bt.batch = compute.Batch{B: len(examples), T: t, Inputs: bt.inputs[:n], Targets: bt.targets[:n]}
	packInto(&bt.batch, examples, bt.padID)
	return &bt.batch
}
