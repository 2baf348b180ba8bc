package sft

import (
	"slices"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/data"
)

func TestPackBatchPadsAndMasks(t *testing.T) {
	exs := []data.Example{
		{ID: "a", Tokens: []int32{5, 6, 7, 8}, PromptLen: 2}, // predicts 7, 8
		{ID: "b", Tokens: []int32{9, 10}, PromptLen: 0},      // predicts 10
	}
	b := PackBatch(exs, 99)
	if b.B != 2 || b.T != 3 {
		t.Fatalf("shape %dx%d, want 2x3", b.B, b.T)
	}
	if want := []int32{5, 6, 7, 9, 99, 99}; !slices.Equal(b.Inputs, want) {
		t.Errorf("inputs %v, want %v", b.Inputs, want)
	}
	if want := []int32{-1, 7, 8, 10, -1, -1}; !slices.Equal(b.Targets, want) {
		t.Errorf("targets %v, want %v", b.Targets, want)
	}
	var bt batcher
	bt.padID = 99
	if big := bt.pack(exs); big.T != 3 || !slices.Equal(big.Targets, b.Targets) {
		t.Errorf("batcher gave %+v", big)
	}
	small := bt.pack(exs[1:])
	if small.B != 1 || small.T != 1 || small.Targets[0] != 10 {
		t.Errorf("reused batcher gave %+v", small)
	}
}

func TestPrepareExamplesLengthPolicy(t *testing.T) {
	long := data.Example{ID: "long", Tokens: []int32{1, 2, 3, 4, 5, 6, 7, 8}, PromptLen: 3}
	ok := data.Example{ID: "ok", Tokens: []int32{1, 2, 3}, PromptLen: 1}
	_, _, err := PrepareExamples([]data.Example{ok, long}, 6, false)
	if err == nil || !strings.Contains(err.Error(), `"long"`) || !strings.Contains(err.Error(), "8 tokens") {
		t.Fatalf("too-long sample: err = %v", err)
	}
	out, n, err := PrepareExamples([]data.Example{ok, long}, 6, true)
	if err != nil || n != 1 {
		t.Fatalf("truncate: n=%d err=%v", n, err)
	}
	if !slices.Equal(out[1].Tokens, []int32{1, 2, 3, 4, 5, 6}) || len(long.Tokens) != 8 || responseTokens(out[1]) != 3 {
		t.Errorf("truncated to %v (input now %v)", out[1].Tokens, long.Tokens)
	}
	// A prompt that fills the context leaves nothing to learn even when truncating.
	_, _, err = PrepareExamples([]data.Example{{ID: "p", Tokens: []int32{1, 2, 3, 4, 5, 6, 7}, PromptLen: 5}}, 6, true)
	if err == nil || !strings.Contains(err.Error(), `"p"`) {
		t.Errorf("prompt filling the context: err = %v", err)
	}
	for name, exs := range map[string][]data.Example{
		"empty":       nil,
		"no response": {{ID: "x", Tokens: []int32{1, 2}, PromptLen: 2}},
		"one token":   {{ID: "x", Tokens: []int32{1}}},
		"no id":       {{Tokens: []int32{1, 2}}},
		"duplicate":   {ok, ok},
		"negative":    {{ID: "x", Tokens: []int32{1, -2}}},
	} {
		if _, _, err := PrepareExamples(exs, 0, false); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPackBatchLossMask(t *testing.T) {
	// A two-turn chat: tokens 2-3 and 6-7 are assistant turns, 4-5 the user turn between.
	ex := data.Example{ID: "chat", Tokens: []int32{1, 2, 3, 4, 5, 6, 7}, PromptLen: 2,
		Loss: []bool{false, false, true, true, false, false, true}}
	b := PackBatch([]data.Example{ex}, 0)
	if want := []int32{-1, 3, 4, -1, -1, 7}; !slices.Equal(b.Targets, want) {
		t.Errorf("targets %v, want %v (loss only where the mask is set)", b.Targets, want)
	}
	if n := responseTokens(ex); n != 3 {
		t.Errorf("responseTokens = %d, want 3", n)
	}
	prepared, cut, err := PrepareExamples([]data.Example{ex}, 4, true)
	if err != nil || cut != 1 || len(prepared[0].Loss) != 4 {
		t.Fatalf("truncation: %+v, %d, %v; want the mask cut with the tokens", prepared, cut, err)
	}
	bad := ex
	bad.Loss = bad.Loss[:3]
	if _, _, err := PrepareExamples([]data.Example{bad}, 0, false); err == nil || !strings.Contains(err.Error(), "loss mask of 3 entries") {
		t.Errorf("short mask: err = %v", err)
	}
	none := ex
	none.Loss = make([]bool, len(ex.Tokens))
	if _, _, err := PrepareExamples([]data.Example{none}, 0, false); err == nil || !strings.Contains(err.Error(), "no token to learn") {
		t.Errorf("empty mask: err = %v", err)
	}
}
