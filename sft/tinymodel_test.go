package sft

import (
	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"math"
	"testing"
)

func TestTinyModelGradientMatchesFiniteDifferences(t *testing.T) {
	m, err := NewTinyModel(TinyConfig{Vocab: 11, Window: 3, Embed: 4, Hidden: 6, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	b := PackBatch(copyTask(3, 11, 5), 0)
	w := []float32{0.5, 0.2, 0.3}
	weighted := func() float64 {
		l, err := m.Loss(b)
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for i, v := range l {
			s += float64(w[i]) * float64(v)
		}
		return s
	}
	if _, err := m.ForwardBackward(b, w); err != nil {
		t.Fatal(err)
	}
	rng := NewRNG(1)
	const h = 1e-2
	checked := 0
	for _, p := range m.Params() {
		for k := 0; k < 12; k++ {
			i := rng.Intn(len(cpu.F32(p.Value)))
			orig := cpu.F32(p.Value)[i]
			cpu.F32(p.Value)[i] = orig + h
			up := weighted()
			cpu.F32(p.Value)[i] = orig - h
			down := weighted()
			cpu.F32(p.Value)[i] = orig
			num := (up - down) / (2 * h)
			got := float64(cpu.F32(p.Grad)[i])
			if math.Abs(num-got) > 2e-3+2e-2*math.Abs(num) {
				t.Errorf("%s[%d]: backward %g, finite difference %g", p.Name, i, got, num)
			}
			if num != 0 {
				checked++
			}
		}
	}
	if checked < 30 {
		t.Errorf("only %d non-zero gradients checked", checked)
	}
}

func TestTinyModelContract(t *testing.T) {
	m := newTiny(t, 10, 1)
	b := PackBatch(copyTask(4, 10, 2), 0)
	l1, err := m.Loss(b)
	if err != nil {
		t.Fatal(err)
	}
	// Each sample's loss does not depend on its batch-mates or on padding.
	for i := 0; i < b.B; i++ {
		single := PackBatch(copyTask(4, 10, 2)[i:i+1], 0)
		l, _ := m.Loss(single)
		if l[0] != l1[i] {
			t.Errorf("sample %d: loss %g alone, %g in a batch", i, l[0], l1[i])
		}
	}
	c, err := m.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if !paramsEqual(m, c) {
		t.Fatal("clone differs")
	}
	cpu.F32(c.Params()[0].Value)[0] += 1
	if paramsEqual(m, c) {
		t.Fatal("clone shares its parameters")
	}
	bad := &compute.Batch{B: 1, T: 1, Inputs: []int32{3}, Targets: []int32{10}}
	if _, err := m.Loss(bad); err == nil {
		t.Error("target outside the vocabulary accepted")
	}
}
