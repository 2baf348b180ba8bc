// Command generate benchmarks greedy generation with the KV cache against a PyTorch KV-cache
// loop on the same Llama architecture, batch, prompt length and precision, in the same run,
// and prints tokens/s for each and the ratio.
//
//	go run ./bench/generate                                   # CPU, a small model
//	bench-generate -device cuda -config gpu125m -precision bf16 -python python3
//
// Both sides start from random weights (the same shapes, not the same values: greedy decoding
// costs the same whatever it produces), prefill the prompts in one pass, then decode one token
// per sequence per step, after a warm-up run; the prefill and the decoding are timed apart.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/devices"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/tensor"
)

type shape struct {
	name                                    string
	dim, layers, heads, kvHeads, ffn, vocab int
}

var shapes = []shape{
	{"tiny", 64, 2, 4, 2, 128, 128}, // dry runs of bench/gpu
	{"small", 256, 4, 8, 8, 704, 512},
	{"gpu125m", 768, 12, 12, 12, 2048, 32000},
	{"gpu1b", 2048, 16, 32, 8, 8192, 128256},
}

type result struct {
	PrefillS     float64 `json:"prefill_s"`
	DecodeS      float64 `json:"decode_s"`
	TokensPerS   float64 `json:"decode_tokens_per_s"`
	PeakDeviceMB float64 `json:"peak_device_mb"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/generate:", err)
		os.Exit(1)
	}
}

func run() error {
	config := flag.String("config", "small", "model shape: small, gpu125m or gpu1b")
	device := flag.String("device", "cpu", "cpu, cuda or cuda:N (PyTorch uses the same)")
	precision := flag.String("precision", "f32", "f32, tf32 or bf16 (PyTorch: autocast)")
	batch := flag.Int("batch", 8, "sequences generated together")
	prompt := flag.Int("prompt", 128, "prompt tokens per sequence")
	newTokens := flag.Int("new", 128, "tokens generated per sequence")
	repeat := flag.Int("repeat", 2, "alternate ordermerge and PyTorch runs this many times")
	withTorch := flag.Bool("torch", true, "also run the PyTorch loop")
	python := flag.String("python", "/usr/bin/python3", "Python with PyTorch")
	flag.Parse()
	var sh *shape
	for i := range shapes {
		if shapes[i].name == *config {
			sh = &shapes[i]
		}
	}
	if sh == nil {
		return fmt.Errorf("unknown config %q", *config)
	}
	dev, err := devices.Open(*device, devices.Options{})
	if err != nil {
		return err
	}
	prec, err := compute.ParsePrecision(*precision)
	if err != nil {
		return err
	}
	fmt.Printf("ordermerge device: %s; precision %s; %s, %d CPUs\n", dev.Describe(), prec, runtime.Version(), runtime.NumCPU())
	fmt.Printf("%s: dim %d, layers %d, heads %d/%d, ffn %d, vocab %d; batch %d, prompt %d, %d new tokens\n",
		sh.name, sh.dim, sh.layers, sh.heads, sh.kvHeads, sh.ffn, sh.vocab, *batch, *prompt, *newTokens)
	cfg := tensor.NewLlamaConfig(sh.dim, sh.ffn, sh.layers, sh.heads, sh.kvHeads, sh.vocab, *prompt+*newTokens)
	m, err := llama.New(cfg, 1, llama.Options{Device: dev, Precision: prec})
	if err != nil {
		return err
	}
	rng := seeded.New(2)
	prompts := make([][]int32, *batch)
	for i := range prompts {
		prompts[i] = make([]int32, *prompt)
		for j := range prompts[i] {
			prompts[i][j] = int32(rng.Intn(sh.vocab))
		}
	}
	var ratios []float64
	for r := 0; r < *repeat; r++ {
		g, err := runGo(m, prompts, *newTokens)
		if err != nil {
			return err
		}
		g.PeakDeviceMB = float64(dev.MemoryStats().Peak) / (1 << 20)
		fmt.Printf("  go     decode %8.0f tokens/s  (prefill %.3f s, decode %.3f s)\n", g.TokensPerS, g.PrefillS, g.DecodeS)
		if !*withTorch {
			continue
		}
		t, err := runTorch(*python, *sh, dev.Name(), string(prec), *batch, *prompt, *newTokens)
		if err != nil {
			return err
		}
		fmt.Printf("  torch  decode %8.0f tokens/s  (prefill %.3f s, decode %.3f s)\n", t.TokensPerS, t.PrefillS, t.DecodeS)
		ratios = append(ratios, g.TokensPerS/t.TokensPerS)
		fmt.Printf("  ratio go/torch %.2fx (decode tokens/s)\n", ratios[len(ratios)-1])
		line, _ := json.Marshal(map[string]any{"bench": "generate", "config": sh.name, "device": dev.Name(), "precision": prec, "go": g, "torch": t, "ratio": ratios[len(ratios)-1]})
		fmt.Printf("RESULT %s\n", line)
	}
	return nil
}

// runGo runs the same loop as the PyTorch script, through the model's decoder (what
// eval.Generate uses): the prompts prefilled in one step, then one greedy token per sequence
// per step, the device picking each token. A first run warms up (kernels, allocations).
func runGo(m *llama.Model, prompts [][]int32, newTokens int) (result, error) {
	var res result
	for run := 0; run < 2; run++ {
		dec, err := m.NewDecoder(len(prompts), len(prompts[0])+newTokens)
		if err != nil {
			return res, err
		}
		t0 := time.Now()
		next, err := dec.ExtendGreedy(prompts)
		if err != nil {
			return res, err
		}
		t1 := time.Now()
		feed := make([][]int32, len(prompts))
		for s := 0; s < newTokens-1; s++ {
			for i, tok := range next {
				feed[i] = []int32{tok}
			}
			if next, err = dec.ExtendGreedy(feed); err != nil {
				return res, err
			}
		}
		t2 := time.Now()
		res.PrefillS, res.DecodeS = t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds()
	}
	res.TokensPerS = float64(len(prompts)*(newTokens-1)) / res.DecodeS
	return res, nil
}

func runTorch(python string, s shape, device, precision string, batch, prompt, newTokens int) (result, error) {
	script := "torch_generate.py"
	if _, err := os.Stat(script); err != nil {
		script = filepath.Join("bench", "generate", "torch_generate.py")
	}
	args := []string{script, "--device=" + device, "--precision=" + precision, fmt.Sprintf("--threads=%d", runtime.NumCPU())}
	for _, kv := range [][2]any{{"dim", s.dim}, {"layers", s.layers}, {"heads", s.heads}, {"kv-heads", s.kvHeads}, {"ffn", s.ffn},
		{"vocab", s.vocab}, {"batch", batch}, {"prompt", prompt}, {"new", newTokens}} {
		args = append(args, fmt.Sprintf("--%s=%d", kv[0], kv[1]))
	}
	cmd := exec.Command(python, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%s: %v\n%s", script, err, errb.String())
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return result{}, fmt.Errorf("%s printed %q: %v", script, out.String(), err)
	}
	return r, nil
}
