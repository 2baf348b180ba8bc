package eval

import (
	"context"
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"math"
	"sort"
)

// Model is what evaluation needs of a language model: its context length and vocabulary,
// per-sample losses, and decoding. *llama.Model implements it, for every family it loads.
type Model interface {
	// ContextLength is the longest sequence the model takes.
	ContextLength() int
	// VocabSize is the number of token ids.
	VocabSize() int
	// Loss is each sample's mean loss over its non-negative targets.
	Loss(b *compute.Batch) ([]float32, error)
	// LastLogits runs a full pass over each prefix and returns the logits after its last
	// token (nil for an empty prefix).
	LastLogits(prefixes [][]int32) ([][]float32, error)
	// NewDecoder starts incremental decoding (a KV cache).
	NewDecoder(batch, maxLen int) (compute.Decoder, error)
}

// GenerateOptions control Generate.
type GenerateOptions struct {
	// MaxNewTokens bounds each continuation (0: 64). Generation also stops when a sequence
	// fills the model's context (max_position_embeddings).
	MaxNewTokens int
	// Temperature divides the logits before sampling; 0 means greedy decoding (the most
	// likely token, the lowest id on ties).
	Temperature float64
	// TopP keeps, when sampling, the smallest set of most likely tokens whose probabilities
	// add up to at least TopP (nucleus sampling); 0 or 1 keeps every token.
	TopP float64
	// Seed seeds sampling; sequence i draws from its own generator seeded by Seed and i.
	Seed uint64
	// StopTokens end a sequence when generated (the stop token is not part of the result).
	StopTokens []int32
	// NoCache recomputes every prefix in full at each step instead of using the KV cache
	// (slower; the same tokens; kept for checking and benchmarking the cache).
	NoCache bool
}

// Generation is one prompt's continuation.
type Generation struct {
	// Tokens are the generated ids, without the prompt and without the stop token.
	Tokens []int32
	// Stopped is set when the sequence ended at a stop token (not at a length limit).
	Stopped bool
}

// Generate continues every prompt with m. It checks ctx between steps and, when cancelled,
// returns what was generated so far together with ctx's error.
func Generate(ctx context.Context, m Model, prompts [][]int32, opt GenerateOptions) ([]Generation, error) {
	if opt.Temperature < 0 || math.IsNaN(opt.Temperature) {
		return nil, fmt.Errorf("generate: temperature %v must be >= 0", opt.Temperature)
	}
	if opt.TopP < 0 || opt.TopP > 1 || math.IsNaN(opt.TopP) {
		return nil, fmt.Errorf("generate: top_p %v must be in [0, 1]", opt.TopP)
	}
	maxNew := opt.MaxNewTokens
	if maxNew <= 0 {
		maxNew = 64
	}
	ctxLen := m.ContextLength()
	out := make([]Generation, len(prompts))
	if len(prompts) == 0 {
		return out, nil
	}
	longest := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return nil, fmt.Errorf("generate: prompt %d is empty", i)
		}
		if len(p) >= ctxLen {
			return nil, fmt.Errorf("generate: prompt %d has %d tokens; the context holds %d, leaving no room to generate", i, len(p), ctxLen)
		}
		longest = max(longest, len(p))
	}
	stop := make(map[int32]bool, len(opt.StopTokens))
	for _, t := range opt.StopTokens {
		stop[t] = true
	}
	rngs := make([]*seeded.RNG, len(prompts))
	for i := range rngs {
		rngs[i] = seeded.New(opt.Seed*0x9e3779b97f4a7c15 + uint64(i))
	}
	var cache compute.Decoder
	if !opt.NoCache {
		var err error
		if cache, err = m.NewDecoder(len(prompts), min(ctxLen, longest+maxNew)); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
	}
	done := make([]bool, len(prompts))
	seqs := make([][]int32, len(prompts)) // prompt + generated, for the uncached path
	feed := make([][]int32, len(prompts))
	for i, p := range prompts {
		seqs[i] = append([]int32(nil), p...)
		feed[i] = p
	}
	var scratch sampler
	for step := 0; step < maxNew; step++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		var logits [][]float32
		var next []int32 // greedy decoding with the cache: the device picks the tokens
		var err error
		switch {
		case cache != nil && opt.Temperature == 0:
			next, err = cache.ExtendGreedy(feed)
		case cache != nil:
			logits, err = cache.Extend(feed)
		default:
			active := make([][]int32, len(seqs))
			for i := range seqs {
				if !done[i] {
					active[i] = seqs[i]
				}
			}
			logits, err = m.LastLogits(active)
		}
		if err != nil {
			return out, fmt.Errorf("generate: step %d: %w", step, err)
		}
		anyLeft := false
		for i := range prompts {
			feed[i] = nil
			if done[i] {
				continue
			}
			var tok int32
			if next != nil {
				tok = next[i]
			} else {
				tok = scratch.pick(logits[i], opt.Temperature, opt.TopP, rngs[i])
			}
			if stop[tok] {
				out[i].Stopped, done[i] = true, true
				continue
			}
			out[i].Tokens = append(out[i].Tokens, tok)
			seqs[i] = append(seqs[i], tok)
			if len(seqs[i]) >= ctxLen || (cache != nil && len(seqs[i]) > cache.MaxLen()) {
				done[i] = true
				continue
			}
			feed[i] = []int32{tok}
			anyLeft = true
		}
		if !anyLeft {
			break
		}
	}
	return out, nil
}

// sampler holds the buffers of one decoding step, reused across steps.
type sampler struct {
	probs []float64
	order []int
}

// pick chooses the next token from logits: the argmax when temperature is 0, otherwise a draw
// from softmax(logits/temperature) restricted to the top-p nucleus.
func (s *sampler) pick(logits []float32, temperature, topP float64, rng *seeded.RNG) int32 {
	if temperature == 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return int32(best)
	}
	n := len(logits)
	if cap(s.probs) < n {
		s.probs, s.order = make([]float64, n), make([]int, n)
	}
	probs, order := s.probs[:n], s.order[:n]
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for i, v := range logits {
		probs[i] = math.Exp((float64(v) - mx) / temperature)
		sum += probs[i]
		order[i] = i
	}
	// Most likely first; ties by id, so the order is the same on every run.
	sort.Slice(order, func(a, b int) bool {
		pa, pb := probs[order[a]], probs[order[b]]
		return pa > pb || (pa == pb && order[a] < order[b])
	})
	keep := n
	if topP > 0 && topP < 1 {
		var cum float64
		for k, i := range order {
			cum += probs[i] / sum
			if cum >= topP {
				keep = k + 1
				break
			}
		}
	}
	var kept float64
	for _, i := range order[:keep] {
		kept += probs[i]
	}
	u := rng.Float64() * kept
	for _, i := range order[:keep] {
		u -= probs[i]
		if u < 0 {
			return int32(i)
		}
	}
	return int32(order[keep-1])
}
