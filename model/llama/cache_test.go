package llama

import (
	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"github.com/ordermerge/ordermerge/tensor"
	"strings"
	"testing"
)

// TestKVCacheMatchesFullForward extends ragged sequences through the cache -- prompts of
// different lengths, then one token at a time, some sequences pausing -- and compares every
// returned logit vector with the uncached forward pass over the same whole prefix.
func TestKVCacheMatchesFullForward(t *testing.T) {
	for _, be := range testBackends(t) {
		testKVCache(t, be, "llama", func(*tensor.Config) {})
	}
	// Every family's features in the incremental pass: biases, q/k norms, sliding window.
	for _, fam := range referenceFamilies() {
		testKVCache(t, cpu.NewGoBackend(2), fam.name, fam.edit)
	}
}

func testKVCache(t *testing.T, be cpu.Backend, name string, edit func(*tensor.Config)) {
	{
		cfg := tinyConfig(false)
		cfg.NumHiddenLayers = 3
		edit(cfg)
		m := mustNew(t, cfg, 31, be)
		rng := seeded.New(32)
		for _, p := range m.Params() {
			for i := range cpu.F32(p.Value) {
				cpu.F32(p.Value)[i] += float32(rng.Normal() * 0.2)
			}
		}
		c, err := m.NewKVCache(3, 40)
		if err != nil {
			t.Fatal(err)
		}
		seqs := make([][]int32, 3)
		rounds := [][]int{{7, 1, 35}, {1, 0, 1}, {1, 1, 0}, {1, 3, 1}, {0, 1, 0}}
		for r, counts := range rounds {
			tokens := make([][]int32, 3)
			for b, n := range counts {
				for j := 0; j < n; j++ {
					tokens[b] = append(tokens[b], int32(rng.Intn(cfg.VocabSize)))
				}
				seqs[b] = append(seqs[b], tokens[b]...)
			}
			got, err := m.Extend(c, tokens)
			if err != nil {
				t.Fatal(err)
			}
			want, err := m.LastLogits(seqs)
			if err != nil {
				t.Fatal(err)
			}
			for b, n := range counts {
				if c.Len(b) != len(seqs[b]) {
					t.Fatalf("round %d: cache holds %d positions of sequence %d, want %d", r, c.Len(b), b, len(seqs[b]))
				}
				if n == 0 {
					if got[b] != nil {
						t.Fatalf("round %d: sequence %d got no tokens but has logits", r, b)
					}
					continue
				}
				if d := maxAbsDiff(got[b], want[b]); d > 1e-4 {
					t.Fatalf("%s %s round %d sequence %d: cached logits differ from the full forward by %.3g", name, be.Name(), r, b, d)
				}
			}
		}
		// The full forward over a padded batch agrees with Logits at the last positions.
		all, err := m.Logits(&compute.Batch{B: 1, T: len(seqs[0]), Inputs: seqs[0]})
		if err != nil {
			t.Fatal(err)
		}
		last, _ := m.LastLogits(seqs[:1])
		if d := maxAbsDiff(all[len(all)-cfg.VocabSize:], last[0]); d > 1e-5 {
			t.Fatalf("LastLogits differs from Logits by %.3g", d)
		}
		c.Reset()
		if c.Len(0) != 0 || c.Batch() != 3 || c.MaxLen() != 40 {
			t.Fatal("Reset must empty the cache and keep its shape")
		}
	}
}

func TestKVCacheErrors(t *testing.T) {
	cfg := tinyConfig(true)
	m := mustNew(t, cfg, 1, nil)
	if _, err := m.NewKVCache(2, 41); err == nil || !strings.Contains(err.Error(), "exceeds max_position_embeddings 40") {
		t.Errorf("too long a cache: %v", err)
	}
	c, err := m.NewKVCache(2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Extend(c, [][]int32{{1}}); err == nil || !strings.Contains(err.Error(), "1 token lists for a KV cache of 2") {
		t.Errorf("wrong batch: %v", err)
	}
	if _, err := m.Extend(c, [][]int32{{1, 2, 3, 4, 5}, nil}); err == nil || !strings.Contains(err.Error(), "would reach 5 positions") {
		t.Errorf("overflow: %v", err)
	}
	if _, err := m.Extend(c, [][]int32{{1}, {-3}}); err == nil || !strings.Contains(err.Error(), "sequence 1 new token 0: id -3") {
		t.Errorf("bad token: %v", err)
	}
	if c.Len(0) != 0 {
		t.Error("a refused call must not change the cache")
	}
	other := mustNew(t, tinyConfig(false), 1, nil)
	big := tinyConfig(false)
	big.NumHiddenLayers = 3
	mb := mustNew(t, big, 1, nil)
	cb, _ := mb.NewKVCache(2, 4)
	if _, err := other.Extend(cb, [][]int32{{1}, {2}}); err == nil {
		t.Error("a cache from a model of another shape must be refused")
	}
	if out, err := m.LastLogits([][]int32{{}, {3, 4}}); err != nil || out[0] != nil || len(out[1]) != cfg.VocabSize {
		t.Errorf("LastLogits with an empty prefix: %v, %v", out, err)
	}
}
