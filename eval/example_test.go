package eval_test

import (
	"context"
	"fmt"

	"github.com/ordermerge/ordermerge/eval"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/tensor"
)

// Greedy continuation of two prompts of different lengths, stopping at token 0 or after 5
// new tokens.
func ExampleGenerate() {
	cfg := tensor.NewLlamaConfig(32, 64, 2, 4, 2, 40, 64)
	m, err := llama.New(cfg, 1, llama.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := eval.Generate(context.Background(), m, [][]int32{{1, 2, 3}, {4}},
		eval.GenerateOptions{MaxNewTokens: 5, StopTokens: []int32{0}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, g := range out {
		fmt.Println(i, len(g.Tokens) <= 5, g.Stopped == (len(g.Tokens) < 5))
	}
	// Output:
	// 0 true true
	// 1 true true
}
