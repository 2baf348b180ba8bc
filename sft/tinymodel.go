package sft

import (
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"math"
)

// TinyConfig configures a TinyModel. Zero fields take the defaults in their comments.
type TinyConfig struct {
	// Vocab is the number of token ids (0..Vocab-1); required.
	Vocab int
	// Window is how many tokens, ending at the current one, the model sees (default 4).
	Window int
	// Embed is the embedding width (default 16); Hidden the hidden layer's width (default 64).
	Embed  int
	Hidden int
	// Seed is the init seed (independent of any order seed).
	Seed uint64
}

// TinyModel is a small window language model in plain Go: the embeddings of the last Window
// tokens, concatenated, go through one tanh hidden layer to next-token logits (Bengio et al.'s
// neural LM). It implements compute.Model exactly (per-sample mean response loss, gradients
// accumulated with weights), single-threaded and deterministic. It exists so the trainer, its
// examples and notebook demos run in milliseconds without the Llama engine, and so the
// trainer's tests depend on no other package's model.
//
// Parameters: embed.weight [Vocab+1, Embed] (the last row stands for "before the start"),
// hidden.weight [Hidden, Window*Embed], hidden.bias [Hidden], out.weight [Vocab, Hidden],
// out.bias [Vocab].
type TinyModel struct {
	cfg                 TinyConfig
	dev                 *cpu.Device
	emb, w1, b1, w2, b2 hostParam
	params              []*compute.Param

	// scratch for one position, allocated once
	x, h, dh, z []float32
}

// NewTinyModel returns a TinyModel initialised from cfg.Seed: embeddings N(0, 1), weights
// N(0, 1/fan_in), biases 0.
func NewTinyModel(cfg TinyConfig) (*TinyModel, error) {
	if cfg.Window == 0 {
		cfg.Window = 4
	}
	if cfg.Embed == 0 {
		cfg.Embed = 16
	}
	if cfg.Hidden == 0 {
		cfg.Hidden = 64
	}
	if cfg.Vocab <= 0 || cfg.Window < 0 || cfg.Embed < 0 || cfg.Hidden < 0 {
		return nil, fmt.Errorf("tiny model: vocab, window, embed and hidden must be positive (got %d, %d, %d, %d)", cfg.Vocab, cfg.Window, cfg.Embed, cfg.Hidden)
	}
	m := newTinyShapes(cfg)
	for i, p := range m.host() {
		rng := NewRNG(DeriveSeed(cfg.Seed, uint64(i)))
		std := 0.0
		switch i {
		case 0: // embed
			std = 1
		case 1, 3: // hidden, out weights
			std = 1 / math.Sqrt(float64(p.Shape[1]))
		}
		if std > 0 {
			for j := range p.Data {
				p.Data[j] = float32(rng.NormFloat64() * std)
			}
		}
	}
	return m, nil
}

// hostParam is a parameter with its values and gradient as host slices (the compute.Param
// the trainer sees wraps the same memory).
type hostParam struct {
	*compute.Param
	Data, Grad []float32
}

// host lists the parameters in Params order.
func (m *TinyModel) host() []hostParam { return []hostParam{m.emb, m.w1, m.b1, m.w2, m.b2} }

func newTinyShapes(cfg TinyConfig) *TinyModel {
	// The model runs single-threaded in plain Go; its device holds the optimizer state.
	dev := cpu.NewDevice(cpu.NewGoBackend(1))
	mk := func(name string, noDecay bool, shape ...int) hostParam {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data, grad := make([]float32, n), make([]float32, n)
		return hostParam{&compute.Param{Name: name, Shape: shape, Value: dev.Wrap(data), Grad: dev.Wrap(grad), NoDecay: noDecay}, data, grad}
	}
	m := &TinyModel{
		cfg: cfg, dev: dev,
		emb: mk("embed.weight", false, cfg.Vocab+1, cfg.Embed),
		w1:  mk("hidden.weight", false, cfg.Hidden, cfg.Window*cfg.Embed),
		b1:  mk("hidden.bias", true, cfg.Hidden),
		w2:  mk("out.weight", false, cfg.Vocab, cfg.Hidden),
		b2:  mk("out.bias", true, cfg.Vocab),
	}
	m.params = []*compute.Param{m.emb.Param, m.w1.Param, m.b1.Param, m.w2.Param, m.b2.Param}
	m.x = make([]float32, cfg.Window*cfg.Embed)
	m.h = make([]float32, cfg.Hidden)
	m.dh = make([]float32, cfg.Hidden)
	m.z = make([]float32, cfg.Vocab)
	return m
}

// TinyConfig returns the model's configuration.
func (m *TinyModel) TinyConfig() TinyConfig { return m.cfg }

// Device implements compute.Model: the CPU.
func (m *TinyModel) Device() compute.Device { return m.dev }

// Params implements compute.Model.
func (m *TinyModel) Params() []*compute.Param { return m.params }

// Clone implements compute.Model.
func (m *TinyModel) Clone() (compute.Model, error) {
	c := newTinyShapes(m.cfg)
	ch := c.host()
	for i, p := range m.host() {
		copy(ch[i].Data, p.Data)
	}
	return c, nil
}

// Loss implements compute.Model.
func (m *TinyModel) Loss(b *compute.Batch) ([]float32, error) { return m.run(b, nil) }

// ForwardBackward implements compute.Model.
func (m *TinyModel) ForwardBackward(b *compute.Batch, weights []float32) ([]float32, error) {
	if len(weights) != b.B {
		return nil, fmt.Errorf("tiny model: %d weights for a batch of %d", len(weights), b.B)
	}
	return m.run(b, weights)
}

func (m *TinyModel) run(b *compute.Batch, weights []float32) ([]float32, error) {
	if b.B < 0 || b.T < 0 || len(b.Inputs) != b.B*b.T || len(b.Targets) != b.B*b.T {
		return nil, fmt.Errorf("tiny model: batch %dx%d with %d inputs and %d targets", b.B, b.T, len(b.Inputs), len(b.Targets))
	}
	V := int32(m.cfg.Vocab)
	for i := range b.Inputs {
		if in, tg := b.Inputs[i], b.Targets[i]; tg >= V || (tg >= 0 && (in < 0 || in >= V)) {
			return nil, fmt.Errorf("tiny model: sample %d position %d: token %d or target %d outside the vocabulary of %d", i/max(b.T, 1), i%max(b.T, 1), in, tg, V)
		}
	}
	losses := make([]float32, b.B)
	for s := 0; s < b.B; s++ {
		in := b.Inputs[s*b.T : (s+1)*b.T]
		tg := b.Targets[s*b.T : (s+1)*b.T]
		n := 0
		for _, y := range tg {
			if y >= 0 {
				n++
			}
		}
		if n == 0 {
			continue
		}
		var coef float32
		if weights != nil {
			coef = weights[s] / float32(n)
		}
		var sum float64
		for t, y := range tg {
			if y < 0 {
				continue
			}
			sum += m.position(in, t, int(y), coef, weights != nil)
		}
		losses[s] = float32(sum / float64(n))
	}
	return losses, nil
}

// position computes the loss of predicting target at position t of a sequence and, when
// backward is set, adds coef times its gradient.
func (m *TinyModel) position(in []int32, t, target int, coef float32, backward bool) float64 {
	W, E, H, V := m.cfg.Window, m.cfg.Embed, m.cfg.Hidden, m.cfg.Vocab
	row := func(j int) int { // embedding row of window slot j (slot W-1 is position t)
		if p := t - (W - 1) + j; p >= 0 {
			return int(in[p])
		}
		return V
	}
	for j := 0; j < W; j++ {
		r := row(j)
		copy(m.x[j*E:(j+1)*E], m.emb.Data[r*E:(r+1)*E])
	}
	for i := 0; i < H; i++ {
		acc := m.b1.Data[i]
		wr := m.w1.Data[i*W*E : (i+1)*W*E]
		for k, xv := range m.x {
			acc += wr[k] * xv
		}
		m.h[i] = float32(math.Tanh(float64(acc)))
	}
	maxz := float32(math.Inf(-1))
	for v := 0; v < V; v++ {
		acc := m.b2.Data[v]
		wr := m.w2.Data[v*H : (v+1)*H]
		for k, hv := range m.h {
			acc += wr[k] * hv
		}
		m.z[v] = acc
		maxz = max(maxz, acc)
	}
	var se float64
	for _, z := range m.z {
		se += math.Exp(float64(z - maxz))
	}
	lse := float64(maxz) + math.Log(se)
	loss := lse - float64(m.z[target])
	if !backward || coef == 0 {
		return loss
	}
	// dz = coef * (softmax - onehot)
	clear(m.dh)
	for v := 0; v < V; v++ {
		dz := float32(math.Exp(float64(m.z[v])-lse)) * coef
		if v == target {
			dz -= coef
		}
		m.b2.Grad[v] += dz
		wr := m.w2.Data[v*H : (v+1)*H]
		gr := m.w2.Grad[v*H : (v+1)*H]
		for k, hv := range m.h {
			gr[k] += dz * hv
			m.dh[k] += dz * wr[k]
		}
	}
	for i := 0; i < H; i++ {
		da := m.dh[i] * (1 - m.h[i]*m.h[i])
		if da == 0 {
			continue
		}
		m.b1.Grad[i] += da
		gr := m.w1.Grad[i*W*E : (i+1)*W*E]
		wr := m.w1.Data[i*W*E : (i+1)*W*E]
		for j := 0; j < W; j++ {
			r := row(j)
			eg := m.emb.Grad[r*E : (r+1)*E]
			for k := 0; k < E; k++ {
				gr[j*E+k] += da * m.x[j*E+k]
				eg[k] += da * wr[j*E+k]
			}
		}
	}
	return loss
}
