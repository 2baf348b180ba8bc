package merge

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

// vecModel makes a one-tensor F32 model "w" of shape [len(v)].
func vecModel(t testing.TB, v []float32) Model {
	t.Helper()
	return shapedModel(t, "w", []int{len(v)}, v, tensor.F32)
}

func shapedModel(t testing.TB, name string, shape []int, v []float32, dt tensor.DType) Model {
	t.Helper()
	x, err := tensor.FromFloat32(name, shape, v, dt)
	if err != nil {
		t.Fatal(err)
	}
	return Model{name: x}
}

// mergeVec merges one-tensor models given as float32 vectors and returns the result's values.
func mergeVec(t testing.TB, opt Options, base []float32, models ...[]float32) ([]float32, *Report) {
	t.Helper()
	if base != nil {
		opt.Base = vecModel(t, base)
	}
	for _, m := range models {
		opt.Models = append(opt.Models, vecModel(t, m))
	}
	out, rep, err := Merge(context.Background(), opt)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	v, err := out["w"].Float32()
	if err != nil {
		t.Fatal(err)
	}
	return v, rep
}

func approxEqual(t testing.TB, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-float64(want[i])) > tol {
			t.Fatalf("element %d: got %v, want %v (all: got %v, want %v)", i, got[i], want[i], got, want)
		}
	}
}

// randVec returns n normal values.
func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// finetuned returns base plus a small change at each element with probability moved (the rest
// stay exactly equal to the base, as small updates do in bf16).
func finetuned(r *rand.Rand, base []float32, moved float64) []float32 {
	v := append([]float32(nil), base...)
	for i := range v {
		if r.Float64() < moved {
			v[i] += float32(r.NormFloat64() * 0.1)
		}
	}
	return v
}

// testModel is a small Llama-like set of tensors with the given dtype.
type tensorShape struct {
	name  string
	shape []int
}

var llamaLike = []tensorShape{
	{"model.embed_tokens.weight", []int{64, 32}},
	{"model.layers.0.self_attn.q_proj.weight", []int{32, 32}},
	{"model.layers.0.mlp.up_proj.weight", []int{48, 32}},
	{"model.layers.0.input_layernorm.weight", []int{32}},
	{"model.layers.1.self_attn.q_proj.weight", []int{32, 32}},
	{"model.layers.1.mlp.up_proj.weight", []int{48, 32}},
	{"model.layers.1.input_layernorm.weight", []int{32}},
	{"model.norm.weight", []int{32}},
	{"lm_head.weight", []int{64, 32}},
}

// family makes a base and k fine-tuned variants over the given tensors.
func family(t testing.TB, seed uint64, shapes []tensorShape, dt tensor.DType, k int, moved float64) (Model, []Model) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	base := Model{}
	models := make([]Model, k)
	for i := range models {
		models[i] = Model{}
	}
	for _, s := range shapes {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		bv := randVec(r, n)
		b, err := tensor.FromFloat32(s.name, s.shape, bv, dt)
		if err != nil {
			t.Fatal(err)
		}
		base[s.name] = b
		bq, _ := b.Float32() // the base as stored, so "equal to the base" survives rounding
		for i := range models {
			x, err := tensor.FromFloat32(s.name, s.shape, finetuned(r, bq, moved), dt)
			if err != nil {
				t.Fatal(err)
			}
			models[i][s.name] = x
		}
	}
	return base, models
}

func mustFloat32(t testing.TB, x *tensor.Tensor) []float32 {
	t.Helper()
	v, err := x.Float32()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sameModels(t testing.TB, a, b Model) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d tensors vs %d", len(a), len(b))
	}
	for name, x := range a {
		y, ok := b[name]
		if !ok {
			t.Fatalf("tensor %s missing", name)
		}
		if x.DType != y.DType || !slices.Equal(x.Shape, y.Shape) || string(x.Data) != string(y.Data) {
			t.Fatalf("tensor %s differs", name)
		}
	}
}

// saveShapes writes the model's tensors of the given shapes, in that order, as a checkpoint
// folder dir/name and returns its path.
func saveShapes(t testing.TB, dir, name string, shapes []tensorShape, m Model) string {
	t.Helper()
	var ts []*tensor.Tensor
	for _, s := range shapes {
		ts = append(ts, m[s.name])
	}
	p := filepath.Join(dir, name)
	if err := tensor.SaveCheckpoint(p, nil, ts, tensor.CheckpointOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}
