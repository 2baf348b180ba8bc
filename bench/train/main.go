// Command train benchmarks ordermerge's training step against PyTorch on the identical Llama
// architecture and batch shape, in the same run, and prints tokens/s for each and the ratio.
//
//	go run ./bench/train                   # small and large configs, Go then PyTorch, twice
//	go run ./bench/train -config small -repeat 3 -steps 5
//	go run ./bench/train -torch=false -cpuprofile cpu.out   # Go only, with a profile
//
// A step is forward + backward + an AdamW update (written here: weight decay 0.1 on matrices,
// none on norms, lr 1e-3, like the PyTorch script's torch.optim.AdamW), on one batch of random
// tokens with every target counted. Model FLOPs per token are 6 * (matrix parameters) +
// 12 * layers * dim * context (attention scores and values, forward and backward, counted for
// the full T x T as is usual; the causal half that is skipped is not subtracted).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/devices"
	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
)

// shape is one benchmark configuration.
type shape struct {
	name                                         string
	dim, layers, heads, kvHeads, ffn, vocab, ctx int
	batch                                        int
}

var shapes = []shape{
	{name: "tiny", dim: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128, vocab: 128, ctx: 32, batch: 4}, // dry runs of bench/gpu
	{name: "small", dim: 256, layers: 4, heads: 8, kvHeads: 8, ffn: 704, vocab: 512, ctx: 128, batch: 16},
	{name: "large", dim: 512, layers: 8, heads: 8, kvHeads: 8, ffn: 1408, vocab: 512, ctx: 128, batch: 16},
	// GPU sizes at context 1024: about 125M parameters (GPT-2 small's width and depth, a
	// Llama-2-style vocabulary) and Llama 3.2 1B's shape (grouped KV heads, a 128K vocabulary).
	{name: "gpu125m", dim: 768, layers: 12, heads: 12, kvHeads: 12, ffn: 2048, vocab: 32000, ctx: 1024, batch: 16},
	{name: "gpu1b", dim: 2048, layers: 16, heads: 32, kvHeads: 8, ffn: 8192, vocab: 128256, ctx: 1024, batch: 8},
}

// peakGFLOPS is the practical peak the achieved rate is shown against: the 2-core reference
// machine's f32 FMA loop on the CPU; on a GPU the H200's measured bf16 matrix rate (about
// 790 TFLOP/s, gpu.md), for every precision, so the percentages compare.
func peakGFLOPS(dev compute.Device) float64 {
	if dev.Name() == "cpu" {
		return 187.0
	}
	return 790e3
}

type result struct {
	TokensPerS float64   `json:"tokens_per_s"`
	StepS      []float64 `json:"step_s"`
	LossFirst  float64   `json:"loss_first"`
	LossLast   float64   `json:"loss_last"`
	PeakRSSMB  float64   `json:"peak_rss_mb"`
	// PeakDeviceMB is the peak GPU memory (0 on the CPU).
	PeakDeviceMB float64 `json:"peak_device_mb"`
	// CPUPerStep is the process's user+system CPU seconds per timed step: less sensitive to
	// other load on a shared machine than wall time, though it counts spin-waiting too.
	CPUPerStep float64 `json:"cpu_s_per_step"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/train:", err)
		os.Exit(1)
	}
}

func run() error {
	config := flag.String("config", "small,large", "configurations to run: small, large or both (comma-separated)")
	steps := flag.Int("steps", 10, "timed steps per run (after the warm-up, at steady state on both sides)")
	warmup := flag.Int("warmup", 3, "untimed steps first (PyTorch's step time falls over its first few steps)")
	repeat := flag.Int("repeat", 2, "alternate Go and PyTorch runs this many times")
	backend := flag.String("backend", "", "CPU backend: openblas or go (default: openblas with cgo)")
	device := flag.String("device", "cpu", "device to train on: cpu, cuda or cuda:N (PyTorch uses the same)")
	precision := flag.String("precision", "f32", "precision of the products: f32, tf32 (CUDA) or bf16 (PyTorch: autocast)")
	threads := flag.Int("threads", runtime.NumCPU(), "threads for both (Go backend threads, torch.set_num_threads, OMP_NUM_THREADS)")
	withTorch := flag.Bool("torch", true, "also run the PyTorch script and print the ratio")
	python := flag.String("python", "/usr/bin/python3", "Python with PyTorch")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the Go runs to this file")
	flag.Parse()

	dev, err := devices.Open(*device, devices.Options{Backend: *backend, Threads: *threads})
	if err != nil {
		return err
	}
	prec, err := compute.ParsePrecision(*precision)
	if err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	script, err := torchScript()
	if err != nil && *withTorch {
		return err
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("machine: %d CPUs, load average %s", runtime.NumCPU(), load)
	fmt.Printf("ordermerge device: %s; precision %s; %s\n", dev.Describe(), prec, runtime.Version())
	for _, name := range strings.Split(*config, ",") {
		var sh *shape
		for i := range shapes {
			if shapes[i].name == strings.TrimSpace(name) {
				sh = &shapes[i]
			}
		}
		if sh == nil {
			return fmt.Errorf("unknown config %q (want tiny, small, large, gpu125m or gpu1b)", name)
		}
		fmt.Printf("\n%s: dim %d, layers %d, heads %d/%d, ffn %d, vocab %d, context %d, batch %d; %.1f GFLOP per step\n",
			sh.name, sh.dim, sh.layers, sh.heads, sh.kvHeads, sh.ffn, sh.vocab, sh.ctx, sh.batch, sh.flopsPerStep()/1e9)
		var ratios []float64
		for r := 0; r < *repeat; r++ {
			g, err := runGo(*sh, dev, prec, *steps, *warmup)
			if err != nil {
				return err
			}
			gf := sh.flopsPerStep() * g.TokensPerS / float64(sh.batch*sh.ctx) / 1e9
			fmt.Printf("  go     %8.0f tokens/s  %6.1f GFLOP/s (%.0f%% of %.0f peak)  CPU %.2f s/step  loss %.3f -> %.3f  peak RSS %.0f MB  steps %s\n",
				g.TokensPerS, gf, 100*gf/peakGFLOPS(dev), peakGFLOPS(dev), g.CPUPerStep, g.LossFirst, g.LossLast, g.PeakRSSMB, fmtSteps(g.StepS))
			if !*withTorch {
				continue
			}
			t, err := runTorch(*python, script, *sh, *threads, *steps, *warmup, dev.Name(), string(prec))
			if err != nil {
				return err
			}
			tf := sh.flopsPerStep() * t.TokensPerS / float64(sh.batch*sh.ctx) / 1e9
			fmt.Printf("  torch  %8.0f tokens/s  %6.1f GFLOP/s (%.0f%% of %.0f peak)  CPU %.2f s/step  loss %.3f -> %.3f  peak RSS %.0f MB  steps %s\n",
				t.TokensPerS, tf, 100*tf/peakGFLOPS(dev), peakGFLOPS(dev), t.CPUPerStep, t.LossFirst, t.LossLast, t.PeakRSSMB, fmtSteps(t.StepS))
			ratios = append(ratios, g.TokensPerS/t.TokensPerS)
			line, _ := json.Marshal(map[string]any{"bench": "train", "config": sh.name, "device": dev.Name(), "precision": prec, "go": g, "torch": t, "ratio": ratios[len(ratios)-1]})
			fmt.Printf("RESULT %s\n", line)
			fmt.Printf("  ratio go/torch %.2fx (tokens/s); CPU time per step torch/go %.2fx\n", ratios[len(ratios)-1], t.CPUPerStep/g.CPUPerStep)
		}
		if len(ratios) > 1 {
			sort.Float64s(ratios)
			fmt.Printf("  %s: median ratio go/torch %.2fx over %d pairs (min %.2f, max %.2f)\n", sh.name, median(ratios), len(ratios), ratios[0], ratios[len(ratios)-1])
		}
	}
	return nil
}

func median(x []float64) float64 {
	n := len(x)
	if n%2 == 1 {
		return x[n/2]
	}
	return (x[n/2-1] + x[n/2]) / 2
}

func fmtSteps(s []float64) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.FormatFloat(v, 'f', 2, 64)
	}
	return "[" + strings.Join(parts, " ") + "]s"
}

// matrixParams counts the weights that take part in matrix products (the embedding lookup
// does not; the untied LM head does).
func (s shape) matrixParams() float64 {
	hd := s.dim / s.heads
	perLayer := s.dim*(s.heads*hd) + 2*s.dim*(s.kvHeads*hd) + (s.heads*hd)*s.dim + 3*s.dim*s.ffn
	return float64(s.layers*perLayer + s.vocab*s.dim)
}

func (s shape) flopsPerStep() float64 {
	perToken := 6*s.matrixParams() + 12*float64(s.layers*s.dim*s.ctx)
	return perToken * float64(s.batch*s.ctx)
}

func (s shape) config() *tensor.Config {
	c := tensor.NewLlamaConfig(s.dim, s.ffn, s.layers, s.heads, s.kvHeads, s.vocab, s.ctx)
	return c
}

// runGo trains the shape through sft's trainer for warmup+steps steps (one epoch per step:
// the dataset is one batch of random sequences, every target counted) and times the steps
// after the warm-up from the trainer's progress reports.
func runGo(s shape, dev compute.Device, prec compute.Precision, steps, warmup int) (result, error) {
	resetPeakRSS()
	m, err := llama.New(s.config(), 1, llama.Options{Device: dev, Precision: prec})
	if err != nil {
		return result{}, err
	}
	rng := seeded.New(1)
	examples := make([]data.Example, s.batch)
	for i := range examples {
		seq := make([]int32, s.ctx+1)
		for j := range seq {
			seq[j] = int32(rng.Intn(s.vocab))
		}
		examples[i] = data.Example{ID: fmt.Sprintf("seq-%04d", i), Tokens: seq}
	}
	var res result
	var total, cpu0 float64
	last := time.Now()
	cfg := sft.Config{
		Epochs: warmup + steps, BatchSize: s.batch, LR: 1e-3, WeightDecay: 0.1, Schedule: sft.ScheduleConstant,
		OrderMode: sft.OrderFixed, LogEvery: 1, MaxSeqLen: s.ctx + 1,
		Progress: func(p sft.Progress) {
			if p.Phase != "train" {
				return
			}
			now := time.Now()
			dt := now.Sub(last).Seconds()
			last = now
			if p.Step == warmup {
				cpu0 = cpuSeconds()
			}
			if p.Step == 1 {
				res.LossFirst = p.Loss
			}
			res.LossLast = p.Loss
			if p.Step > warmup {
				res.StepS = append(res.StepS, dt)
				total += dt
			}
		},
	}
	t, err := sft.NewTrainer(m, examples, cfg)
	if err != nil {
		return result{}, err
	}
	last = time.Now()
	if warmup == 0 {
		cpu0 = cpuSeconds()
	}
	if _, err := t.Run(context.Background()); err != nil {
		return result{}, err
	}
	res.CPUPerStep = (cpuSeconds() - cpu0) / float64(steps)
	res.TokensPerS = float64(steps*s.batch*s.ctx) / total
	res.PeakRSSMB = peakRSSMB()
	if ms := dev.MemoryStats(); dev.Name() != "cpu" {
		res.PeakDeviceMB = float64(ms.Peak) / (1 << 20)
	}
	return res, nil
}

// cpuSeconds is the user+system CPU time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// resetPeakRSS frees what earlier runs left and restarts the resident-set high-water mark
// (Linux: writing 5 to /proc/self/clear_refs), so each run reports its own peak.
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSSMB reads this process's resident-set high-water mark (VmHWM).
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return math.NaN()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return math.NaN()
}

// torchScript finds torch_train.py next to this file (the command runs from the module root
// or from bench/train).
func torchScript() (string, error) {
	for _, p := range []string{"bench/train/torch_train.py", "torch_train.py"} {
		if _, err := os.Stat(p); err == nil {
			return filepath.Abs(p)
		}
	}
	return "", fmt.Errorf("torch_train.py not found: run from the module root")
}

func runTorch(python, script string, s shape, threads, steps, warmup int, device, precision string) (result, error) {
	args := []string{script, "--device=" + device, "--precision=" + precision}
	for _, kv := range [][2]any{{"dim", s.dim}, {"layers", s.layers}, {"heads", s.heads}, {"kv-heads", s.kvHeads},
		{"ffn", s.ffn}, {"vocab", s.vocab}, {"ctx", s.ctx}, {"batch", s.batch}, {"steps", steps}, {"warmup", warmup}, {"threads", threads}} {
		args = append(args, fmt.Sprintf("--%s=%d", kv[0], kv[1]))
	}
	cmd := exec.Command(python, args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("OMP_NUM_THREADS=%d", threads))
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
