package gorgoniamodel

import (
	"bytes"
	"context"
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
)

// successorTask: after a prompt token p, the response is p+1, p+2 (mod 10, shifted by 1 so 0
// stays padding). A bigram model can learn it exactly.
func successorTask(n int) []data.Example {
	out := make([]data.Example, n)
	for i := range out {
		p := int32(1 + i%10)
		next := func(v int32) int32 { return 1 + v%10 }
		out[i] = data.Example{ID: fmt.Sprintf("succ-%02d", i), Tokens: []int32{p, next(p), next(next(p))}, PromptLen: 1}
	}
	return out
}

// referenceLoss computes the MLP's per-sample loss in plain float64 Go, independently of
// gorgonia.
func referenceLoss(m *Model, b *compute.Batch) []float64 {
	p := m.Params()
	V, E, H := p[0].Shape[0], p[0].Shape[1], p[1].Shape[1]
	out := make([]float64, b.B)
	for s := 0; s < b.B; s++ {
		n := 0
		for t := 0; t < b.T; t++ {
			tg := b.Targets[s*b.T+t]
			if tg < 0 {
				continue
			}
			tok := int(b.Inputs[s*b.T+t])
			h := make([]float64, H)
			for j := 0; j < H; j++ {
				a := float64(cpu.F32(p[2].Value)[j])
				for k := 0; k < E; k++ {
					a += float64(cpu.F32(p[0].Value)[tok*E+k]) * float64(cpu.F32(p[1].Value)[k*H+j])
				}
				h[j] = math.Tanh(a)
			}
			z := make([]float64, V)
			mx := math.Inf(-1)
			for v := 0; v < V; v++ {
				z[v] = float64(cpu.F32(p[4].Value)[v])
				for j := 0; j < H; j++ {
					z[v] += h[j] * float64(cpu.F32(p[3].Value)[j*V+v])
				}
				mx = math.Max(mx, z[v])
			}
			var se float64
			for _, zv := range z {
				se += math.Exp(zv - mx)
			}
			out[s] += mx + math.Log(se) - z[tg]
			n++
		}
		out[s] /= float64(n)
	}
	return out
}

func TestGorgoniaLossAndGradients(t *testing.T) {
	m, err := New(MLPSpec(11, 4, 6), 3)
	if err != nil {
		t.Fatal(err)
	}
	exs := successorTask(3)
	exs[1].Tokens = append(exs[1].Tokens, 4, 5) // unequal lengths: padding in the batch
	b := sft.PackBatch(exs, 0)
	w := []float32{0.5, 0.3, 0.2}
	l, err := m.ForwardBackward(b, w)
	if err != nil {
		t.Fatal(err)
	}
	ref := referenceLoss(m, b)
	for i := range ref {
		if math.Abs(float64(l[i])-ref[i]) > 1e-5 {
			t.Errorf("sample %d: loss %g, reference %g", i, l[i], ref[i])
		}
	}
	weighted := func() float64 {
		r := referenceLoss(m, b)
		return float64(w[0])*r[0] + float64(w[1])*r[1] + float64(w[2])*r[2]
	}
	const h = 1e-3
	rng := sft.NewRNG(4)
	for _, p := range m.Params() {
		for k := 0; k < 6; k++ {
			i := rng.Intn(len(cpu.F32(p.Value)))
			orig := cpu.F32(p.Value)[i]
			cpu.F32(p.Value)[i] = orig + h
			up := weighted()
			cpu.F32(p.Value)[i] = orig - h
			down := weighted()
			cpu.F32(p.Value)[i] = orig
			num := (up - down) / (2 * h)
			if math.Abs(num-float64(cpu.F32(p.Grad)[i])) > 1e-3+1e-2*math.Abs(num) {
				t.Errorf("%s[%d]: gradient %g, finite difference %g", p.Name, i, cpu.F32(p.Grad)[i], num)
			}
		}
	}
	// Loss leaves gradients alone and agrees with ForwardBackward.
	before := slices.Clone(cpu.F32(m.Params()[1].Grad))
	l2, err := m.Loss(b)
	if err != nil || !slices.Equal(l, l2) || !slices.Equal(before, cpu.F32(m.Params()[1].Grad)) {
		t.Errorf("Loss: %v vs %v, err %v", l2, l, err)
	}
	bad := &compute.Batch{B: 1, T: 1, Inputs: []int32{3}, Targets: []int32{11}}
	if _, err := m.Loss(bad); err == nil {
		t.Error("target outside the vocabulary accepted")
	}
	broken := MLPSpec(11, 4, 6)
	broken.Params[1].Shape = []int{5, 6} // does not fit the embedding
	bm, err := New(broken, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bm.Loss(b); err == nil {
		t.Error("a graph with mismatched shapes ran")
	}
}

// TestTrainGorgoniaMLPWithOrderControl trains the MLP with the sft trainer: it learns the
// task, two runs with the same seeds write the same bytes, another order seed gives another
// model, and the checkpoint reads back by parameter name (what merge/ does).
func TestTrainGorgoniaMLPWithOrderControl(t *testing.T) {
	exs := successorTask(20)
	dir := t.TempDir()
	train := func(name string, orderSeed uint64) (*sft.Result, map[string][]byte) {
		base, err := New(MLPSpec(11, 8, 16), 7)
		if err != nil {
			t.Fatal(err)
		}
		cfg := sft.Config{Epochs: 40, BatchSize: 4, MicroBatchSize: 2, LR: 3e-2, OrderSeed: orderSeed, OrderMode: sft.OrderBatchShuffle, CheckpointDir: filepath.Join(dir, name)}
		res, err := sft.Train(context.Background(), base, exs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, f := range []string{tensor.SingleFile, sft.OptimizerFile, sft.TrainerStateFile, sft.RecordsFile} {
			files[f], err = os.ReadFile(filepath.Join(cfg.CheckpointDir, f))
			if err != nil {
				t.Fatal(err)
			}
		}
		return res, files
	}
	a, fa := train("a", 1)
	_, fb := train("b", 1)
	_, fc := train("c", 2)
	for _, f := range a.Final {
		if f.Loss > 0.1 {
			t.Errorf("sample %s: final loss %g", f.ID, f.Loss)
		}
	}
	for name, data := range fa {
		if !bytes.Equal(data, fb[name]) {
			t.Errorf("%s differs between two identical runs", name)
		}
	}
	if bytes.Equal(fa[tensor.SingleFile], fc[tensor.SingleFile]) {
		t.Error("different order seeds gave the same model")
	}
	ck, err := tensor.OpenCheckpoint(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	for _, p := range a.Model.Params() {
		v, shape, err := ck.ReadFloat32(p.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(shape, p.Shape) || !slices.Equal(v, cpu.F32(p.Value)) {
			t.Errorf("%s reads back differently", p.Name)
		}
	}
	// The saved model loads into a fresh gorgonia model and gives the recorded final losses.
	fresh, _ := New(MLPSpec(11, 8, 16), 99)
	if err := sft.LoadParams(filepath.Join(dir, "a"), fresh); err != nil {
		t.Fatal(err)
	}
	l, err := fresh.Loss(sft.PackBatch(exs[:1], 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range a.Final {
		if f.ID == exs[0].ID && float64(l[0]) != f.Loss {
			t.Errorf("reloaded loss %g, recorded %g", l[0], f.Loss)
		}
	}
}

func TestInitIsSeeded(t *testing.T) {
	a, _ := New(MLPSpec(5, 3, 4), 1)
	b, _ := New(MLPSpec(5, 3, 4), 1)
	c, _ := New(MLPSpec(5, 3, 4), 2)
	if !slices.Equal(cpu.F32(a.Params()[0].Value), cpu.F32(b.Params()[0].Value)) || slices.Equal(cpu.F32(a.Params()[0].Value), cpu.F32(c.Params()[0].Value)) {
		t.Error("init does not follow the seed")
	}
	if cpu.F32(a.Params()[2].Value)[0] != 0 || !a.Params()[2].NoDecay {
		t.Error("bias not zero / not excluded from decay")
	}
	if _, err := New(Spec{Vocab: 3}, 1); err == nil {
		t.Error("empty spec accepted")
	}
}
