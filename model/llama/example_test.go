package llama_test

import (
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"math"
	"os"
	"path/filepath"

	"github.com/ordermerge/ordermerge/compute/devices"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/tensor"
)

// A model from a LlamaConfig and a seed, one training step's losses and gradients, and a
// Hugging Face checkpoint folder written and read back.
func Example() {
	cfg := tensor.NewLlamaConfig(64, 128, 2, 4, 2, 100, 32) // hidden, ffn, layers, heads, kv heads, vocab, context
	m, err := llama.New(cfg, 1, llama.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Two sequences; -1 targets (the prompt) carry no loss.
	b := &compute.Batch{B: 2, T: 4,
		Inputs:  []int32{5, 6, 7, 8, 9, 10, 11, 12},
		Targets: []int32{-1, 7, 8, 9, -1, -1, 12, 13}}
	losses, err := m.ForwardBackward(b, []float32{0.5, 0.5})
	if err != nil {
		fmt.Println(err)
		return
	}
	// A fresh model guesses uniformly: every loss is close to ln(vocab).
	near := math.Abs(float64(losses[0])-math.Log(100)) < 0.2 && math.Abs(float64(losses[1])-math.Log(100)) < 0.2
	fmt.Printf("%d samples, losses near ln(100): %v\n", len(losses), near)

	dir, _ := os.MkdirTemp("", "llama-example")
	defer os.RemoveAll(dir)
	if err := m.Save(filepath.Join(dir, "model"), llama.SaveOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	back, err := llama.Load(filepath.Join(dir, "model"), llama.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(back.Params()), "tensors, first", back.Params()[0].Name)
	// Output:
	// 2 samples, losses near ln(100): true
	// 21 tensors, first model.embed_tokens.weight
}

// Incremental decoding: the prompt goes in once, then one token per step; each call returns
// the logits after the newest token of every sequence.
func ExampleModel_Extend() {
	cfg := tensor.NewLlamaConfig(64, 128, 2, 4, 2, 100, 32)
	m, _ := llama.New(cfg, 1, llama.Options{})
	cache, _ := m.NewKVCache(2, 16)
	logits, _ := m.Extend(cache, [][]int32{{1, 2, 3}, {4, 5}})
	fmt.Println(len(logits[0]), cache.Len(0), cache.Len(1))
	logits, _ = m.Extend(cache, [][]int32{{argmax(logits[0])}, nil}) // sequence 1 waits
	fmt.Println(cache.Len(0), cache.Len(1), logits[1] == nil)
	// Output:
	// 100 3 2
	// 4 2 true
}

func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// A model moves to another device (here a second CPU device computing in bf16 mixed
// precision; on a GPU machine devices.Open("cuda") gives the GPU): the copy has the same
// values, and its passes run there.
func ExampleModel_To() {
	cfg := tensor.NewLlamaConfig(64, 128, 2, 4, 2, 100, 32)
	m, _ := llama.New(cfg, 1, llama.Options{})
	dev, err := devices.Open("cpu", devices.Options{Backend: "go", Threads: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	g, err := m.To(dev, compute.PrecisionBF16)
	if err != nil {
		fmt.Println(err)
		return
	}
	a, _ := m.Values()
	b, _ := g.Values()
	fmt.Println(g.Device().Name(), g.Precision(), a[0] == b[0] && a[len(a)-1] == b[len(b)-1])
	batch := &compute.Batch{B: 1, T: 3, Inputs: []int32{1, 2, 3}, Targets: []int32{2, 3, 4}}
	l32, _ := m.Loss(batch)
	l16, _ := g.Loss(batch)
	fmt.Println("bf16 loss within 1% of f32:", math.Abs(float64(l16[0]-l32[0])) < 0.01*float64(l32[0]))
	// Output:
	// cpu bf16 true
	// bf16 loss within 1% of f32: true
}
