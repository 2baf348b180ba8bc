package llama

import (
	"math"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"github.com/ordermerge/ordermerge/internal/gradcheck"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"github.com/ordermerge/ordermerge/tensor"
)

// tinyConfig is a model small enough for finite differences: 4 query heads share 2 KV heads.
func tinyConfig(tie bool) *tensor.Config {
	c := tensor.NewLlamaConfig(16, 24, 2, 4, 2, 23, 40)
	c.TieWordEmbeddings = tie
	c.RMSNormEps = 1e-5
	return c
}

// randomBatch makes a b x t batch with some masked targets (prompt positions and padding).
func randomBatch(rng *seeded.RNG, b, t, vocab int) *compute.Batch {
	bt := &compute.Batch{B: b, T: t, Inputs: make([]int32, b*t), Targets: make([]int32, b*t)}
	for i := range bt.Inputs {
		bt.Inputs[i] = int32(rng.Intn(vocab))
		bt.Targets[i] = int32(rng.Intn(vocab))
		if i%t < 2 || (i/t == 0 && i%t >= t-3) {
			bt.Targets[i] = -100
		}
	}
	return bt
}

func mustNew(t testing.TB, cfg *tensor.Config, seed uint64, be cpu.Backend) *Model {
	t.Helper()
	m, err := New(cfg, seed, Options{Device: cpu.NewDevice(be)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// weighted is sum_b w[b]*loss[b] in float64.
func weighted(t testing.TB, m *Model, b *compute.Batch, w []float32) float64 {
	losses, err := m.Loss(b)
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	for i, l := range losses {
		s += float64(w[i]) * float64(l)
	}
	return s
}

// TestModelGradient checks every parameter tensor's gradient against finite differences of
// the weighted per-sample losses, for a tied and an untied head.
func TestModelGradient(t *testing.T) {
	for _, tie := range []bool{false, true} {
		cfg := tinyConfig(tie)
		m := mustNew(t, cfg, 1, cpu.NewGoBackend(2))
		// Larger weights than the 0.02 init, so every path carries a clear gradient. Step 3e-3
		// keeps the curvature error small; the 1e-2 floor absorbs float32 rounding in the
		// differences of losses (about 1e-6 / 6e-3) for the smallest gradients.
		rng := seeded.New(2)
		for _, p := range m.Params() {
			for i := range cpu.F32(p.Value) {
				cpu.F32(p.Value)[i] += float32(rng.Normal() * 0.3)
			}
		}
		b := randomBatch(rng, 3, 7, cfg.VocabSize)
		w := []float32{0.7, 1.3, 0.4}
		losses, err := m.ForwardBackward(b, w)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := m.Loss(b)
		for i := range losses {
			if losses[i] != again[i] || losses[i] <= 0 {
				t.Fatalf("ForwardBackward loss %v, Loss %v", losses, again)
			}
		}
		f := func() float64 { return weighted(t, m, b, w) }
		worst := 0.0
		for _, p := range m.Params() {
			worst = math.Max(worst, gradcheck.Check(t, p.Name, cpu.F32(p.Value), cpu.F32(p.Grad), f, 3e-3, 8, 2e-2, 1e-2))
		}
		t.Logf("tie=%v: worst relative difference %.2g over %d tensors", tie, worst, len(m.Params()))
	}
}

func TestGradientsAccumulateAndMaskedSamples(t *testing.T) {
	cfg := tinyConfig(false)
	m := mustNew(t, cfg, 3, nil)
	rng := seeded.New(4)
	b := randomBatch(rng, 2, 6, cfg.VocabSize)
	// Sample 1 has no targets at all: loss 0, no gradient.
	for i := 6; i < 12; i++ {
		b.Targets[i] = -1
	}
	l1, err := m.ForwardBackward(b, []float32{1, 5})
	if err != nil {
		t.Fatal(err)
	}
	if l1[1] != 0 || l1[0] <= 0 {
		t.Fatalf("losses %v: want sample 1 (no targets) at 0", l1)
	}
	g1 := append([]float32(nil), cpu.F32(m.grad)...)
	if _, err := m.ForwardBackward(b, []float32{1, 0}); err != nil {
		t.Fatal(err)
	}
	for i := range g1 {
		if math.Abs(float64(cpu.F32(m.grad)[i]-2*g1[i])) > 1e-6*(1+math.Abs(float64(g1[i]))) {
			t.Fatalf("gradients must add up over calls: %v after two calls, %v after one", cpu.F32(m.grad)[i], g1[i])
		}
	}
}

func TestBackendsAgree(t *testing.T) {
	if !cpu.HaveOpenBLAS() {
		t.Skip("built without cgo: only the pure-Go backend exists")
	}
	cfg := tinyConfig(false)
	cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize = 64, 96, 101
	blas, err := cpu.NewBackend(cpu.BackendOpenBLAS, 2)
	if err != nil {
		t.Fatal(err)
	}
	a := mustNew(t, cfg, 5, blas)
	g := mustNew(t, cfg, 5, cpu.NewGoBackend(2))
	b := randomBatch(seeded.New(6), 4, 33, cfg.VocabSize)
	w := []float32{1, 1, 1, 1}
	la, err := a.ForwardBackward(b, w)
	if err != nil {
		t.Fatal(err)
	}
	lg, _ := g.ForwardBackward(b, w)
	for i := range la {
		if math.Abs(float64(la[i]-lg[i])) > 1e-5 {
			t.Fatalf("loss %d: openblas %v, go %v", i, la[i], lg[i])
		}
	}
	var maxG float64
	for _, v := range cpu.F32(a.grad) {
		maxG = math.Max(maxG, math.Abs(float64(v)))
	}
	for i := range cpu.F32(a.grad) {
		if d := math.Abs(float64(cpu.F32(a.grad)[i] - cpu.F32(g.grad)[i])); d > 1e-4*maxG {
			t.Fatalf("grad %d: openblas %v, go %v (max |grad| %v)", i, cpu.F32(a.grad)[i], cpu.F32(g.grad)[i], maxG)
		}
	}
}

// sgdSteps trains m for a few plain SGD steps and returns the last losses.
func sgdSteps(t testing.TB, m *Model, b *compute.Batch, steps int, lr float32) []float32 {
	w := make([]float32, b.B)
	for i := range w {
		w[i] = 1 / float32(b.B)
	}
	var losses []float32
	for s := 0; s < steps; s++ {
		m.ZeroGrad()
		var err error
		if losses, err = m.ForwardBackward(b, w); err != nil {
			t.Fatal(err)
		}
		for i := range cpu.F32(m.data) {
			cpu.F32(m.data)[i] -= lr * cpu.F32(m.grad)[i]
		}
	}
	return losses
}

func TestDeterministic(t *testing.T) {
	cfg := tinyConfig(false)
	b := randomBatch(seeded.New(7), 3, 10, cfg.VocabSize)
	run := func(be cpu.Backend) []float32 {
		m := mustNew(t, cfg, 11, be)
		sgdSteps(t, m, b, 3, 0.5)
		return cpu.F32(m.data)
	}
	for _, be := range testBackends(t) {
		x, y := run(be), run(be)
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				t.Fatalf("%s: two runs differ at parameter value %d", be.Name(), i)
			}
		}
	}
	// A different seed gives a different model.
	if a, b := mustNew(t, cfg, 1, nil), mustNew(t, cfg, 2, nil); cpu.F32(a.data)[0] == cpu.F32(b.data)[0] && cpu.F32(a.data)[len(cpu.F32(a.data))-1] == cpu.F32(b.data)[len(cpu.F32(b.data))-1] {
		t.Fatal("different seeds gave the same initialisation")
	}
}

func testBackends(t *testing.T) []cpu.Backend {
	bes := []cpu.Backend{cpu.NewGoBackend(2)}
	if cpu.HaveOpenBLAS() {
		be, err := cpu.NewBackend(cpu.BackendOpenBLAS, 2)
		if err != nil {
			t.Fatal(err)
		}
		bes = append(bes, be)
	}
	return bes
}

func TestInit(t *testing.T) {
	cfg := tinyConfig(false)
	m := mustNew(t, cfg, 1, nil)
	for _, p := range m.Params() {
		var s, ss float64
		for _, v := range cpu.F32(p.Value) {
			s += float64(v)
			ss += float64(v) * float64(v)
		}
		n := float64(len(cpu.F32(p.Value)))
		if p.NoDecay {
			if s != n || ss != n {
				t.Fatalf("%s: norm weights must start at 1", p.Name)
			}
			continue
		}
		if std := math.Sqrt(ss / n); std < 0.015 || std > 0.025 {
			t.Fatalf("%s: std %v, want about %v", p.Name, std, InitStd)
		}
	}
	if err := cfg.SetExtra("initializer_range", 0.5); err != nil {
		t.Fatal(err)
	}
	m2 := mustNew(t, cfg, 1, nil)
	if r := cpu.F32(m2.embed.w)[3] / cpu.F32(m.embed.w)[3]; math.Abs(float64(r)-25) > 1e-3 {
		t.Fatalf("initializer_range 0.5 should scale the 0.02 init by 25, got %v", r)
	}
}

func TestCloneIndependent(t *testing.T) {
	cfg := tinyConfig(true)
	m := mustNew(t, cfg, 1, nil)
	b := randomBatch(seeded.New(8), 2, 5, cfg.VocabSize)
	if _, err := m.ForwardBackward(b, []float32{1, 1}); err != nil {
		t.Fatal(err)
	}
	cm, err := m.Clone()
	if err != nil {
		t.Fatal(err)
	}
	c := cm.(*Model)
	for i := range cpu.F32(c.grad) {
		if cpu.F32(c.grad)[i] != 0 {
			t.Fatal("a clone starts with zero gradients")
		}
	}
	if len(c.Params()) != len(m.Params()) {
		t.Fatal("clone has a different parameter list")
	}
	for i, p := range c.Params() {
		q := m.Params()[i]
		if p.Name != q.Name || &cpu.F32(p.Value)[0] == &cpu.F32(q.Value)[0] || cpu.F32(p.Value)[0] != cpu.F32(q.Value)[0] {
			t.Fatalf("param %s is not an independent copy", p.Name)
		}
	}
	orig := cpu.F32(m.data)[0]
	cpu.F32(c.data)[0] += 1
	cpu.F32(c.Params()[0].Grad)[0] = 5
	if cpu.F32(m.data)[0] != orig || cpu.F32(m.grad)[0] == 5 {
		t.Fatal("changing the clone changed the original")
	}
	cpu.F32(c.data)[0] -= 1
	lm, _ := m.Loss(b)
	lc, _ := c.Loss(b)
	for i := range lm {
		if lm[i] != lc[i] {
			t.Fatalf("clone loss %v, original %v", lc, lm)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		edit func(c *tensor.Config)
		want string
	}{
		{func(c *tensor.Config) { c.NumAttentionHeads = 5 }, "not divisible by num_attention_heads"},
		{func(c *tensor.Config) { c.NumKeyValueHeads = 3 }, "not divisible by num_key_value_heads"},
		{func(c *tensor.Config) { c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads = 12, 4, 4 }, "must be even"},
		{func(c *tensor.Config) { c.VocabSize = 0 }, "vocab_size must be positive"},
		{func(c *tensor.Config) { c.SetExtra("hidden_act", "gelu") }, "hidden_act"},
		{func(c *tensor.Config) { c.SetExtra("mlp_bias", true) }, "mlp_bias"},
		{func(c *tensor.Config) { c.SetExtra("attention_bias", "yes") }, "attention_bias"},
		{func(c *tensor.Config) { c.SetExtra("rope_scaling", map[string]any{"rope_type": "yarn", "factor": 2}) }, `rope_type "yarn"`},
		{func(c *tensor.Config) { c.SetExtra("rope_scaling", map[string]any{"rope_type": "llama3", "factor": 8}) }, "rope_scaling has no low_freq_factor"},
		{func(c *tensor.Config) { c.SetExtra("rope_scaling", map[string]any{"type": "linear"}) }, "rope_scaling has no factor"},
		{func(c *tensor.Config) { c.ModelType = "gemma3" }, `model_type "gemma3" is not supported (supported: llama, mistral, qwen2, qwen3)`},
		{func(c *tensor.Config) { c.ModelType = "qwen2"; c.SetExtra("use_sliding_window", true) }, "use_sliding_window"},
		{func(c *tensor.Config) {
			c.ModelType = "qwen3"
			c.SetExtra("layer_types", []string{"sliding_attention"})
		}, "layer_types[0]"},
		{func(c *tensor.Config) { c.SetExtra("head_dim", 5) }, "must be even"},
		{func(c *tensor.Config) { c.SetExtra("num_experts", 8) }, "num_experts"},
	}
	for _, tc := range cases {
		c := tinyConfig(false)
		tc.edit(c)
		_, err := New(c, 1, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error containing %q, got %v", tc.want, err)
		}
	}
	c := tinyConfig(false)
	if err := c.SetExtra("rope_scaling", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := New(c, 1, Options{}); err != nil {
		t.Errorf("rope_scaling null is plain RoPE: %v", err)
	}
}

func TestBatchErrors(t *testing.T) {
	cfg := tinyConfig(false)
	m := mustNew(t, cfg, 1, nil)
	good := randomBatch(seeded.New(1), 2, 4, cfg.VocabSize)
	cases := []struct {
		edit func(b *compute.Batch) ([]float32, *compute.Batch)
		want string
	}{
		{func(b *compute.Batch) ([]float32, *compute.Batch) { b.Inputs[5] = 23; return []float32{1, 1}, b }, "sample 1 position 1: input token 23"},
		{func(b *compute.Batch) ([]float32, *compute.Batch) { b.Targets[2] = 99; return []float32{1, 1}, b }, "target token 99"},
		{func(b *compute.Batch) ([]float32, *compute.Batch) { return []float32{1}, b }, "1 loss weights"},
		{func(b *compute.Batch) ([]float32, *compute.Batch) { b.Inputs = b.Inputs[:3]; return []float32{1, 1}, b }, "needs 8 inputs"},
		{func(b *compute.Batch) ([]float32, *compute.Batch) {
			n := 2 * 41
			return []float32{1, 1}, &compute.Batch{B: 2, T: 41, Inputs: make([]int32, n), Targets: make([]int32, n)}
		}, "exceeds max_position_embeddings 40"},
	}
	for _, tc := range cases {
		b := *good
		b.Inputs = append([]int32(nil), good.Inputs...)
		b.Targets = append([]int32(nil), good.Targets...)
		w, bp := tc.edit(&b)
		if _, err := m.ForwardBackward(bp, w); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error containing %q, got %v", tc.want, err)
		}
	}
}

// TestOverfit: a tiny model learns a handful of sequences to near-zero loss with Adam (the
// trainer proper lives in package sft; this shows the gradients really train).
func TestOverfit(t *testing.T) {
	cfg := tensor.NewLlamaConfig(32, 64, 2, 4, 2, 17, 16)
	m := mustNew(t, cfg, 3, nil)
	rng := seeded.New(9)
	b := randomBatch(rng, 4, 12, cfg.VocabSize)
	w := []float32{0.25, 0.25, 0.25, 0.25}
	mom, vel := make([]float32, len(cpu.F32(m.data))), make([]float32, len(cpu.F32(m.data)))
	var first, losses []float32
	for step := 1; step <= 150; step++ {
		m.ZeroGrad()
		var err error
		if losses, err = m.ForwardBackward(b, w); err != nil {
			t.Fatal(err)
		}
		if step == 1 {
			first = losses
		}
		const lr, b1, b2 = 1e-2, 0.9, 0.999
		c1, c2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
		for i, g := range cpu.F32(m.grad) {
			mom[i] = b1*mom[i] + (1-b1)*g
			vel[i] = b2*vel[i] + (1-b2)*g*g
			cpu.F32(m.data)[i] -= float32(lr * float64(mom[i]) / c1 / (math.Sqrt(float64(vel[i])/c2) + 1e-8))
		}
	}
	for i, l := range losses {
		if l > 0.05 {
			t.Fatalf("sample %d: loss %v after 150 steps (started at %v); the model does not fit", i, l, first[i])
		}
	}
	t.Logf("losses %v -> %v", first, losses)
}
