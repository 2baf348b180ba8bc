package eval

import (
	"context"
	"errors"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"slices"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/tensor"
)

// testModel is a small random model with weights large enough that its distributions are
// far from uniform (so greedy and sampled decoding are not trivially alike).
func testModel(t testing.TB) *llama.Model {
	cfg := tensor.NewLlamaConfig(32, 64, 2, 4, 2, 50, 48)
	m, err := llama.New(cfg, 5, llama.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := seeded.New(6)
	for _, p := range m.Params() {
		for i := range cpu.F32(p.Value) {
			cpu.F32(p.Value)[i] += float32(rng.Normal() * 0.3)
		}
	}
	return m
}

var prompts = [][]int32{{1, 2, 3}, {4}, {5, 6, 7, 8, 9, 10, 11}, {12, 13}}

func TestCachedEqualsUncached(t *testing.T) {
	m := testModel(t)
	for _, opt := range []GenerateOptions{
		{MaxNewTokens: 20},
		{MaxNewTokens: 20, Temperature: 0.9, TopP: 0.9, Seed: 3},
		{MaxNewTokens: 30, Temperature: 1.5, Seed: 4, StopTokens: []int32{7, 8, 9}},
	} {
		cached, err := Generate(context.Background(), m, prompts, opt)
		if err != nil {
			t.Fatal(err)
		}
		opt.NoCache = true
		plain, err := Generate(context.Background(), m, prompts, opt)
		if err != nil {
			t.Fatal(err)
		}
		for i := range prompts {
			if !slices.Equal(cached[i].Tokens, plain[i].Tokens) || cached[i].Stopped != plain[i].Stopped {
				t.Fatalf("%+v prompt %d: cached %v, uncached %v", opt, i, cached[i], plain[i])
			}
			if !cached[i].Stopped && len(cached[i].Tokens) != opt.MaxNewTokens {
				t.Fatalf("prompt %d: %d tokens without a stop, want %d", i, len(cached[i].Tokens), opt.MaxNewTokens)
			}
			for _, tok := range cached[i].Tokens {
				for _, s := range opt.StopTokens {
					if tok == s {
						t.Fatalf("stop token %d inside the output", s)
					}
				}
			}
		}
		t.Logf("%+v: %v", opt, cached)
	}
}

func TestSamplingSeededAndBatchIndependent(t *testing.T) {
	m := testModel(t)
	opt := GenerateOptions{MaxNewTokens: 15, Temperature: 1, Seed: 9}
	a, _ := Generate(context.Background(), m, prompts, opt)
	b, _ := Generate(context.Background(), m, prompts, opt)
	for i := range a {
		if !slices.Equal(a[i].Tokens, b[i].Tokens) {
			t.Fatal("same seed, different samples")
		}
	}
	// The first prompt alone gives what it gave in the batch (its own generator, seed and index 0).
	alone, _ := Generate(context.Background(), m, prompts[:1], opt)
	if !slices.Equal(alone[0].Tokens, a[0].Tokens) {
		t.Fatalf("alone %v, in a batch %v", alone[0].Tokens, a[0].Tokens)
	}
	opt.Seed = 10
	c, _ := Generate(context.Background(), m, prompts, opt)
	same := true
	for i := range a {
		same = same && slices.Equal(a[i].Tokens, c[i].Tokens)
	}
	if same {
		t.Fatal("another seed gave the same samples")
	}
	g, _ := Generate(context.Background(), m, prompts, GenerateOptions{MaxNewTokens: 15})
	if slices.Equal(g[0].Tokens, a[0].Tokens) && slices.Equal(g[2].Tokens, a[2].Tokens) {
		t.Fatal("sampling at temperature 1 gave the greedy tokens")
	}
}

func TestTopPKeepsTheNucleus(t *testing.T) {
	var s sampler
	logits := []float32{0, 3, 2.5, -1, 3} // tokens 1 and 4 tie for most likely
	rng := seeded.New(1)
	seen := map[int32]bool{}
	for i := 0; i < 300; i++ {
		seen[s.pick(logits, 1, 0.5, rng)] = true
	}
	if len(seen) != 2 || !seen[1] || !seen[4] {
		t.Fatalf("top_p 0.5 should keep the two tied best tokens, drew %v", seen)
	}
	if tok := s.pick(logits, 0, 0, rng); tok != 1 {
		t.Fatalf("greedy picks the lowest id on ties, got %d", tok)
	}
}

func TestGenerateLimitsAndErrors(t *testing.T) {
	m := testModel(t)
	// A prompt near the end of the context stops when the context is full.
	long := make([]int32, 45)
	out, err := Generate(context.Background(), m, [][]int32{long, {1}}, GenerateOptions{MaxNewTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(out[0].Tokens) != 3 || len(out[1].Tokens) != 10 {
		t.Fatalf("lengths %d and %d, want 3 (context 48) and 10", len(out[0].Tokens), len(out[1].Tokens))
	}
	for _, tc := range []struct {
		prompts [][]int32
		opt     GenerateOptions
		want    string
	}{
		{[][]int32{{1}, {}}, GenerateOptions{}, "prompt 1 is empty"},
		{[][]int32{make([]int32, 48)}, GenerateOptions{}, "leaving no room"},
		{[][]int32{{1}}, GenerateOptions{Temperature: -1}, "temperature"},
		{[][]int32{{1}}, GenerateOptions{TopP: 2}, "top_p"},
		{[][]int32{{99}}, GenerateOptions{}, "outside the vocabulary"},
	} {
		if _, err := Generate(context.Background(), m, tc.prompts, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error containing %q, got %v", tc.want, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, m, prompts, GenerateOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func BenchmarkGenerate(b *testing.B) {
	cfg := tensor.NewLlamaConfig(256, 704, 4, 8, 8, 512, 256)
	m, err := llama.New(cfg, 1, llama.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ps := make([][]int32, 8)
	for i := range ps {
		ps[i] = make([]int32, 32)
		for j := range ps[i] {
			ps[i][j] = int32((i*31 + j*7) % 512)
		}
	}
	for _, noCache := range []bool{false, true} {
		name := "cache"
		if noCache {
			name = "nocache"
		}
		b.Run(name, func(b *testing.B) {
			tokens := 0
			for i := 0; i < b.N; i++ {
				out, err := Generate(context.Background(), m, ps, GenerateOptions{MaxNewTokens: 64, NoCache: noCache})
				if err != nil {
					b.Fatal(err)
				}
				for _, g := range out {
					tokens += len(g.Tokens)
				}
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
