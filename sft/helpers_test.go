package sft

import (
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"testing"

	"github.com/ordermerge/ordermerge/data"
)

// copyTask returns n samples of a small learnable task: a prompt of 3-5 random tokens from
// 1..vocab-2, a separator (vocab-1), then the prompt reversed. Token 0 is left for padding.
func copyTask(n, vocab int, seed uint64) []data.Example {
	rng := NewRNG(seed)
	out := make([]data.Example, n)
	for i := range out {
		k := 3 + rng.Intn(3)
		toks := make([]int32, 0, 2*k+1)
		for j := 0; j < k; j++ {
			toks = append(toks, int32(1+rng.Intn(vocab-2)))
		}
		toks = append(toks, int32(vocab-1))
		for j := k - 1; j >= 0; j-- {
			toks = append(toks, toks[j])
		}
		out[i] = data.Example{ID: fmt.Sprintf("s%04d", i), Tokens: toks, PromptLen: k + 1}
	}
	return out
}

func newTiny(t testing.TB, vocab int, seed uint64) *TinyModel {
	t.Helper()
	m, err := NewTinyModel(TinyConfig{Vocab: vocab, Window: 6, Embed: 8, Hidden: 32, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// paramsEqual reports whether two models have bit-identical parameters.
func paramsEqual(a, b compute.Model) bool {
	pa, pb := a.Params(), b.Params()
	if len(pa) != len(pb) {
		return false
	}
	for i := range pa {
		if len(cpu.F32(pa[i].Value)) != len(cpu.F32(pb[i].Value)) {
			return false
		}
		for j := range cpu.F32(pa[i].Value) {
			if cpu.F32(pa[i].Value)[j] != cpu.F32(pb[i].Value)[j] {
				return false
			}
		}
	}
	return true
}

// hookModel wraps a model and calls before() ahead of each ForwardBackward, which may
// change the returned losses (to inject NaN) or cancel a context.
type hookModel struct {
	compute.Model
	calls  int
	before func(call int)
	after  func(call int, losses []float32)
}

func (h *hookModel) ForwardBackward(b *compute.Batch, w []float32) ([]float32, error) {
	h.calls++
	if h.before != nil {
		h.before(h.calls)
	}
	l, err := h.Model.ForwardBackward(b, w)
	if err == nil && h.after != nil {
		h.after(h.calls, l)
	}
	return l, err
}
