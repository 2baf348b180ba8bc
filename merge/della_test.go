package merge

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

// mergeShaped merges one-tensor models "w" of the given shape and returns the result.
func mergeShaped(t testing.TB, opt Options, shape []int, base []float32, models ...[]float32) []float32 {
	t.Helper()
	opt.Base = shapedModel(t, "w", shape, base, tensor.F32)
	for _, m := range models {
		opt.Models = append(opt.Models, shapedModel(t, "w", shape, m, tensor.F32))
	}
	out, _, err := Merge(context.Background(), opt)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	return mustFloat32(t, out["w"])
}

// dellaCase is one tensor merged by della or della_linear.
type dellaCase struct {
	shape     []int
	method    string
	dtype     string // "f32" or "bf16"
	weights   []float64
	densities []float64
	epsilons  []float64
	lambda    float64
	rescale   bool
	seed      uint64
	// fine: deltas from 4001 levels, so that ties are pairs (where torch's order seldom
	// matters) rather than groups of hundreds
	fine bool
}

// TestDellaMatchesTorch runs della and della_linear at densities below 1 on tensors whose rows
// straddle the engine's 65536-element blocks (2-D, a long 1-D one, a 3-D one ranked along
// dimension 1), with few distinct magnitudes so that ranks fall among ties, in float32 and in
// bf16 compute, against mergekit's rule run by PyTorch (testdata/della_torch.py) fed the same
// uniform draws (ordermerge's stream m of the tensor for model m): the same elements are kept,
// with the same probabilities (torch's sort order among equal magnitudes included), the same
// L1 rescaling and the same combination.
func TestDellaMatchesTorch(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skip("no PyTorch under /usr/bin/python3")
	}
	r := rand.New(rand.NewPCG(31, 32))
	var cases []dellaCase
	for _, dt := range []string{"f32", "bf16"} {
		cases = append(cases,
			dellaCase{[]int{300, 700}, "della", dt, []float64{0.6, 0.5, 0.8}, []float64{0.5, 0.3, 1}, []float64{0.15, 0.2, 0.15}, 1, true, 5, false},
			dellaCase{[]int{300, 700}, "della_linear", dt, []float64{0.6, -0.4, 0.8}, []float64{0.4, 0.6, 0.5}, []float64{0.3, 0.1, 0.15}, 1.3, true, 6, false},
			dellaCase{[]int{100000}, "della", dt, []float64{1, 0.7}, []float64{0.35, 0.6}, []float64{0.15, 0.15}, 0.9, false, 7, false},
			dellaCase{[]int{6, 50, 3}, "della_linear", dt, []float64{0.5, 0.5}, []float64{0.5, 0}, []float64{0.25, 0.15}, 1, true, 8, false},
			dellaCase{[]int{400, 700}, "della", dt, []float64{0.6, 0.5, 0.8}, []float64{0.5, 0.3, 0.7}, []float64{0.15, 0.2, 0.25}, 1, true, 9, true},
		)
	}
	var in bytes.Buffer
	var wants [][]float32
	type inputs struct {
		base   []float32
		models [][]float32
	}
	var ins []inputs
	for _, c := range cases {
		n := 1
		for _, d := range c.shape {
			n *= d
		}
		base := randVec(r, n)
		for j := range base {
			base[j] *= 0.05
		}
		roundAll(tensor.BF16, base)
		models := make([][]float32, len(c.weights))
		for i := range models {
			models[i] = make([]float32, n)
			for j := range models[i] {
				// few distinct magnitudes: ties everywhere
				models[i][j] = RoundTo(tensor.BF16, base[j]+float32(r.IntN(9)-4)/64)
				if c.fine {
					models[i][j] = base[j] + float32(r.IntN(4001)-2000)/(1<<16)
					if r.IntN(3) == 0 {
						models[i][j] = base[j] // unchanged elements: zero deltas
					}
				}
			}
		}
		ins = append(ins, inputs{base, models})
		spec := map[string]any{"shape": c.shape, "weights": c.weights, "densities": c.densities, "epsilons": c.epsilons,
			"lambda": c.lambda, "normalize": c.method == "della", "rescale": c.rescale, "consensus": c.method == "della", "dtype": c.dtype}
		line, _ := json.Marshal(spec)
		in.Write(append(line, '\n'))
		for _, v := range append([][]float32{base}, models...) {
			binary.Write(&in, binary.LittleEndian, v)
		}
		for i := range models {
			u := make([]uint32, n)
			newStream(c.seed, "w", uint64(i)).fill(u, 0)
			binary.Write(&in, binary.LittleEndian, u)
		}
		wants = append(wants, make([]float32, n))
	}
	cmd := exec.Command(py, "testdata/della_torch.py")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("torch: %v\n%s", err, stderr.String())
	}
	rd := bytes.NewReader(raw)
	for _, w := range wants {
		if err := binary.Read(rd, binary.LittleEndian, w); err != nil {
			t.Fatal(err)
		}
	}
	for ci, c := range cases {
		mp := make([]map[string]any, len(c.weights))
		for i := range mp {
			mp[i] = map[string]any{"epsilon": c.epsilons[i]}
		}
		opt := Options{Method: c.method, Weights: c.weights, Densities: c.densities, ModelParams: mp, Seed: c.seed,
			Params: map[string]any{"lambda": c.lambda, "rescale": c.rescale}}
		if c.dtype == "bf16" {
			opt.DType = "bfloat16"
		}
		got := mergeShaped(t, opt, c.shape, ins[ci].base, ins[ci].models...)
		want := wants[ci]
		bad := 0
		for j := range got {
			if d := math.Abs(float64(got[j] - want[j])); d > 1e-6 {
				if bad < 5 {
					t.Errorf("%s %v %s: element %d: %v, torch %v", c.method, c.shape, c.dtype, j, got[j], want[j])
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%s %v %s: %d of %d elements differ", c.method, c.shape, c.dtype, bad, len(got))
		}
	}
}

// dellaKept merges one model with della_linear from a zero base without rescaling, so the
// output is the model where an element is kept and 0 where it is dropped.
func dellaKept(t *testing.T, shape []int, x []float32, density, eps float64, seed uint64) []bool {
	t.Helper()
	zero := make([]float32, len(x))
	out := mergeShaped(t, Options{Method: "della_linear", Densities: []float64{density}, Seed: seed,
		ModelParams: []map[string]any{{"epsilon": eps}}, Params: map[string]any{"rescale": false}}, shape, zero, x)
	kept := make([]bool, len(x))
	for j, v := range out {
		switch v {
		case x[j]:
			kept[j] = true
		case 0:
		default:
			t.Fatalf("element %d: %v is neither the model's %v nor 0", j, v, x[j])
		}
	}
	return kept
}

// TestDellaKeepsByRankPerRow: on a 2-D tensor whose rows straddle blocks, each row keeps about
// density of its elements, and the keep rate by magnitude rank within the row rises linearly
// from density - epsilon to density + epsilon.
func TestDellaKeepsByRankPerRow(t *testing.T) {
	rows, cols := 200, 1000
	r := rand.New(rand.NewPCG(33, 34))
	x := randVec(r, rows*cols)
	dens, eps := 0.4, 0.2
	kept := dellaKept(t, []int{rows, cols}, x, dens, eps, 3)
	var deciles [10]int
	total := 0
	for row := range rows {
		seg := x[row*cols : (row+1)*cols]
		idx := make([]int, cols)
		for j := range idx {
			idx[j] = j
		}
		sort.Slice(idx, func(a, b int) bool { return math.Abs(float64(seg[idx[a]])) < math.Abs(float64(seg[idx[b]])) })
		n := 0
		for rank, j := range idx {
			if kept[row*cols+j] {
				n++
				deciles[rank*10/cols]++
			}
		}
		total += n
		// sd of a row's kept fraction is about 0.015
		if f := float64(n) / float64(cols); math.Abs(f-dens) > 0.08 {
			t.Errorf("row %d keeps %.3f, want about %.2f", row, f, dens)
		}
	}
	if f := float64(total) / float64(rows*cols); math.Abs(f-dens) > 0.006 {
		t.Errorf("keeps %.4f overall, want %.2f", f, dens)
	}
	for k, n := range deciles {
		rate := float64(n) / float64(rows*cols/10)
		want := dens - eps + 2*eps*(float64(k)+0.5)/10
		if math.Abs(rate-want) > 0.02 {
			t.Errorf("magnitude decile %d keeps %.3f, want %.3f", k, rate, want)
		}
	}
	if deciles[9] <= deciles[0] {
		t.Errorf("the largest magnitudes are not kept more often than the smallest: %v", deciles)
	}
}

// TestDellaKeepFrequencyAndRescale: over many seeds each element is kept with the probability
// of its rank (mergekit's (density - epsilon) + rank_norm * 2 * epsilon), and with rescale (the
// default) every draw's kept elements are multiplied by one factor that restores the task
// vector's L1 norm. (mergekit rescales by the L1 norm, not by 1/p per element, so the
// per-element expectation is p_j times that factor times d_j, and the L1 norm is exact.)
func TestDellaKeepFrequencyAndRescale(t *testing.T) {
	rows, cols := 2, 30
	r := rand.New(rand.NewPCG(35, 36))
	base := randVec(r, rows*cols)
	x := make([]float32, len(base))
	for j := range x {
		x[j] = base[j] + float32(r.NormFloat64()*0.1)
	}
	dens, eps := 0.5, 0.3
	const seeds = 800
	counts := make([]int, len(x))
	for s := range uint64(seeds) {
		out := mergeShaped(t, Options{Method: "della_linear", Densities: []float64{dens}, Seed: s,
			ModelParams: []map[string]any{{"epsilon": eps}}}, []int{rows, cols}, base, x)
		var l1, l1Out, factor float64
		for j := range x {
			d := float64(x[j] - base[j])
			o := float64(out[j]) - float64(base[j])
			l1 += math.Abs(d)
			if math.Abs(o) > 1e-9 {
				counts[j]++
				l1Out += math.Abs(d)
				if factor == 0 {
					factor = o / d
				}
				if math.Abs(o/d-factor) > 1e-4*factor {
					t.Fatalf("seed %d: element %d is scaled by %v, others by %v", s, j, o/d, factor)
				}
			}
		}
		if l1Out > 0 && math.Abs(factor-l1/l1Out) > 1e-4*factor {
			t.Fatalf("seed %d: factor %v, want the L1 ratio %v", s, factor, l1/l1Out)
		}
	}
	for row := range rows {
		seg := make([]float64, cols)
		for j := range seg {
			seg[j] = math.Abs(float64(x[row*cols+j] - base[row*cols+j]))
		}
		for j := range cols {
			rank := 0
			for _, v := range seg {
				if v < seg[j] {
					rank++
				}
			}
			p := dens - eps + 2*eps*float64(rank)/float64(cols-1)
			got := float64(counts[row*cols+j]) / seeds
			if sd := math.Sqrt(p * (1 - p) / seeds); math.Abs(got-p) > 5*sd {
				t.Errorf("row %d element %d (rank %d): kept in %.3f of seeds, want %.3f", row, j, rank, got, p)
			}
		}
	}
}

// TestDellaDeterministicAndIndependentOfChunking: the same seed gives the same bytes whatever
// the memory budget (one chunk or many, tensors held or re-read per pass), the number of workers
// and GOMAXPROCS, streamed or in memory; another seed gives another merge.
func TestDellaDeterministicAndIndependentOfChunking(t *testing.T) {
	shapes := []tensorShape{
		{"model.embed_tokens.weight", []int{600, 500}},
		{"model.layers.0.mlp.down_proj.weight", []int{70, 3001}},
		{"model.layers.0.input_layernorm.weight", []int{140000}},
		{"model.layers.0.conv.weight", []int{40, 700, 3}},
		{"model.layers.1.mlp.up_proj.weight", []int{256, 1024}},
	}
	dir := t.TempDir()
	base, models := family(t, 42, shapes, tensor.F32, 2, 0.7)
	b := saveShapes(t, dir, "base", shapes, base)
	ms := []string{saveShapes(t, dir, "m0", shapes, models[0]), saveShapes(t, dir, "m1", shapes, models[1])}
	for _, method := range []string{"della", "della_linear"} {
		run := func(seed uint64, workers int, mem int64) Model {
			cfg := &Config{Method: method, Seed: seed, Base: b, Params: map[string]any{"lambda": 1.1}}
			for i, m := range ms {
				cfg.Models = append(cfg.Models, Input{Path: m, Params: map[string]any{"density": 0.5 + 0.1*float64(i), "weight": 0.6}})
			}
			out := filepath.Join(dir, fmt.Sprintf("out-%s-%d-%d-%d", method, seed, workers, mem))
			if _, err := Run(context.Background(), cfg, RunOptions{Out: out, Workers: workers, MaxMemory: mem}); err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			c, err := tensor.OpenCheckpoint(out)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got := Model{}
			for _, s := range shapes {
				x, err := c.ReadTensor(s.name)
				if err != nil {
					t.Fatal(err)
				}
				got[s.name] = x
			}
			return got
		}
		want := run(9, 1, 0)
		sameModels(t, run(9, 3, 14<<20), want)
		sameModels(t, run(9, 2, 64<<20), want)
		mem, _, err := Merge(context.Background(), Options{Method: method, Seed: 9, Base: base, Models: models,
			Weights: []float64{0.6, 0.6}, Densities: []float64{0.5, 0.6}, Params: map[string]any{"lambda": 1.1}})
		if err != nil {
			t.Fatal(err)
		}
		sameModels(t, mem, want)
		other := run(10, 1, 0)
		for _, s := range shapes {
			if bytes.Equal(other[s.name].Data, want[s.name].Data) {
				t.Errorf("%s: %s is the same for seeds 9 and 10", method, s.name)
			}
		}
	}
}

// TestDellaAtDensityOneIsUnchanged: density 1 (the default) leaves every task vector whole, so
// della is ties without trimming and della_linear is task_arithmetic, byte for byte, and the
// seed changes nothing.
func TestDellaAtDensityOneIsUnchanged(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	base := randVec(r, 90000)
	x1, x2 := finetuned(r, base, 0.7), finetuned(r, base, 0.7)
	for _, c := range [][2]string{{"della", "ties"}, {"della_linear", "task_arithmetic"}} {
		got := mergeShaped(t, Options{Method: c[0], Seed: 4, Weights: []float64{0.7, 0.4}}, []int{300, 300}, base, x1, x2)
		want := mergeShaped(t, Options{Method: c[1], Weights: []float64{0.7, 0.4}}, []int{300, 300}, base, x1, x2)
		if !slices.Equal(got, want) {
			t.Errorf("%s at density 1 differs from %s", c[0], c[1])
		}
	}
}

// TestDellaRefusesWhatMergekitRejects: density +/- epsilon outside (0, 1), a dimension 1 of
// length 1 (a NaN probability in mergekit) and scalars are errors naming the parameter or the
// tensor, and so are rows over dellaSlabLimit (ordermerge's memory bound); density 0 drops the task vector (mergekit returns zeros).
func TestDellaRefusesWhatMergekitRejects(t *testing.T) {
	one := []float32{1, 2, 3, 4}
	two := []float32{2, 1, 5, 3}
	for _, c := range []struct {
		shape []int
		dens  float64
		eps   float64
		want  string
	}{
		{[]int{2, 2}, 0.9, 0.15, "must lie in (0, 1)"},
		{[]int{2, 2}, 0.1, 0.15, "must lie in (0, 1)"},
		{[]int{4, 1}, 0.5, 0.15, "1 element along dimension 1"},
	} {
		opt := Options{Method: "della", Densities: []float64{c.dens}, ModelParams: []map[string]any{{"epsilon": c.eps}},
			Base: shapedModel(t, "w", c.shape, one, tensor.F32), Models: []Model{shapedModel(t, "w", c.shape, two, tensor.F32)}}
		_, _, err := Merge(context.Background(), opt)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(strings.ToLower(err.Error()), "densit") {
			t.Errorf("%v density %v epsilon %v: %v, want an error about %q", c.shape, c.dens, c.eps, err, c.want)
		}
	}
	_, _, err := Merge(context.Background(), Options{Method: "della", Densities: []float64{0.5},
		Base: shapedModel(t, "s", []int{}, one[:1], tensor.F32), Models: []Model{shapedModel(t, "s", []int{}, two[:1], tensor.F32)}})
	if err == nil || !strings.Contains(err.Error(), "scalar") {
		t.Errorf("scalar: %v", err)
	}
	long := make([]float32, 1100000)
	_, _, err = Merge(context.Background(), Options{Method: "della", Densities: []float64{0.5},
		Base: shapedModel(t, "w", []int{1100000}, long, tensor.F32), Models: []Model{shapedModel(t, "w", []int{1100000}, long, tensor.F32)}})
	if err == nil || !strings.Contains(err.Error(), "at most 1048576") {
		t.Errorf("a row of 1100000 elements: %v", err)
	}
	got := mergeShaped(t, Options{Method: "della_linear", Densities: []float64{0}}, []int{2, 2}, one, two)
	if !slices.Equal(got, one) {
		t.Errorf("density 0: %v, want the base %v", got, one)
	}
}

// TestDellaFloat16PrunesInFloat32: mergekit prunes float16 task vectors in float32 (only bf16
// is pruned in its own dtype on the CPU), so in a float16 compute dtype the keep mask is the
// float32 one for the same values.
func TestDellaFloat16PrunesInFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(39, 40))
	shape := []int{120, 700}
	x := randVec(r, 120*700)
	roundAll(tensor.F16, x)
	zero := make([]float32, len(x))
	opt := Options{Method: "della_linear", Densities: []float64{0.3}, Seed: 2, Params: map[string]any{"rescale": false}}
	f32 := mergeShaped(t, opt, shape, zero, x)
	opt.DType = "float16"
	f16 := mergeShaped(t, opt, shape, zero, x)
	if !slices.Equal(f16, f32) {
		t.Error("float16 compute keeps other elements than float32")
	}
}
