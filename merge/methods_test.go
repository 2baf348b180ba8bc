package merge

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

func TestLinearOfIdenticalModelsIsTheModel(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.F16} {
		base, models := family(t, 1, llamaLike, dt, 1, 0.5)
		_ = base
		same := []Model{models[0], models[0], models[0]}
		for _, w := range [][]float64{nil, {0.2, 0.3, 0.5}, {1, 7, 3}} {
			out, _, err := Merge(context.Background(), Options{Method: "linear", Models: same, Weights: w})
			if err != nil {
				t.Fatal(err)
			}
			sameModels(t, out, models[0])
		}
	}
}

func TestLinearWeighted(t *testing.T) {
	got, _ := mergeVec(t, Options{Method: "linear", Weights: []float64{1, 3}}, nil, []float32{1, 2}, []float32{3, 4})
	approxEqual(t, got, []float32{2.5, 3.5}, 0)
	got, _ = mergeVec(t, Options{Method: "linear", Weights: []float64{1, 3}, Params: map[string]any{"normalize": false}}, nil, []float32{1, 2}, []float32{3, 4})
	approxEqual(t, got, []float32{10, 14}, 0)
}

func TestTaskArithmetic(t *testing.T) {
	base := []float32{1, 2}
	opt := Options{Method: "task_arithmetic", Weights: []float64{1, 0.5}, Params: map[string]any{"lambda": 2.0}}
	got, _ := mergeVec(t, opt, base, []float32{2, 2}, []float32{1, 4})
	approxEqual(t, got, []float32{3, 4}, 0) // 1 + 2*(1*1 + 0.5*0), 2 + 2*(0 + 0.5*2)
	opt.Params["normalize"] = true
	got, _ = mergeVec(t, opt, base, []float32{2, 2}, []float32{1, 4})
	approxEqual(t, got, []float32{1 + 2*1/1.5, 2 + 2*1/1.5}, 1e-6)
}

func TestTIESHandComputed(t *testing.T) {
	base := []float32{1, 1, 1, 1, 1, 1}
	d1 := []float32{2, -3, 0.5, 1, -1, 4}
	d2 := []float32{1, 3, -0.25, -2, 1, -1}
	x1, x2 := make([]float32, 6), make([]float32, 6)
	for i := range base {
		x1[i], x2[i] = base[i]+d1[i], base[i]+d2[i]
	}
	// density 0.5 keeps 3 of 6: d1 keeps 4, -3, 2; d2 keeps 3, -2 and, of the three |1| ties,
	// the first in element order (index 0). Weighted: wd1 = [2 -3 0 0 0 4], wd2 = [.5 1.5 0 -1 0 0].
	// Elected signs: + - + - + +; agreeing sums / agreeing weights: 2.5/1.5, -3/1, 0/1, -1/.5, 0, 4/1.
	got, _ := mergeVec(t, Options{Method: "ties", Weights: []float64{1, 0.5}, Densities: []float64{0.5, 0.5}}, base, x1, x2)
	approxEqual(t, got, []float32{1 + 2.5/1.5, -2, 1, -1, 1, 5}, 1e-6)
	// Without normalize, and with lambda.
	got, _ = mergeVec(t, Options{Method: "ties", Weights: []float64{1, 0.5}, Densities: []float64{0.5, 0.5},
		Params: map[string]any{"normalize": false, "lambda": 0.5}}, base, x1, x2)
	approxEqual(t, got, []float32{1 + 0.5*2.5, 1 - 0.5*3, 1, 1 - 0.5*1, 1, 1 + 0.5*4}, 1e-6)
}

// tiesReference is a direct TIES: sort each task vector's magnitudes, equal ones in the order
// torch's sort gives them (torchOrder, checked against torch by TestTIESMatchesTorch).
func tiesReference(base []float32, models [][]float32, w, density []float64) []float32 {
	n := len(base)
	kept := make([][]float64, len(models))
	for i, x := range models {
		d := make([]float32, n)
		mag := make([]float32, n)
		for j := range d {
			d[j] = x[j] - base[j]
			mag[j] = float32(math.Abs(float64(d[j])))
		}
		idx := torchOrder(mag, true)
		k := n
		if density[i] < 1 {
			k = int(math.Floor(density[i] * float64(n)))
		}
		kept[i] = make([]float64, n)
		for _, j := range idx[:k] {
			kept[i][j] = w[i] * float64(d[j])
		}
	}
	out := make([]float32, n)
	for j := range out {
		var s float64
		for i := range models {
			s += kept[i][j]
		}
		var mixed, div float64
		for i := range models {
			if v := kept[i][j]; (s >= 0 && v > 0) || (s < 0 && v < 0) {
				mixed += v
				div += w[i]
			}
		}
		if div == 0 {
			div = 1
		}
		out[j] = float32(float64(base[j]) + mixed/div)
	}
	return out
}

// TestTIESMatchesReference checks the radix top-k against sorting, over tensors with many
// magnitude ties (values on a coarse grid), merged whole and in chunks.
func TestTIESMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 200_000
	base := make([]float32, n)
	models := make([][]float32, 3)
	for i := range models {
		models[i] = make([]float32, n)
	}
	for j := range base {
		base[j] = float32(r.IntN(7)) / 4
		for i := range models {
			models[i][j] = base[j] + float32(r.IntN(9)-4)/8 // many equal magnitudes
		}
	}
	w := []float64{1, 0.7, 0.4}
	dens := []float64{0.3, 0.55, 1}
	want := tiesReference(base, models, w, dens)
	got, _ := mergeVec(t, Options{Method: "ties", Weights: w, Densities: dens}, base, models...)
	approxEqual(t, got, want, 0)
	// The same through checkpoints with a budget that forces 4 chunks and re-reads.
	dir := t.TempDir()
	cfg := writeVecFamily(t, dir, base, models)
	cfg.Method = "ties"
	for i := range cfg.Models {
		cfg.Models[i].Params = map[string]any{"weight": w[i], "density": dens[i]}
	}
	rep, err := Run(context.Background(), cfg, RunOptions{Out: dir + "/out", MaxMemory: 12 << 20, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	_ = rep
	approxEqual(t, readVec(t, dir+"/out"), want, 0)
}

func TestTIESDensityZeroKeepsBase(t *testing.T) {
	base := []float32{1, 2, 3}
	got, _ := mergeVec(t, Options{Method: "ties", Densities: []float64{0, 0}}, base, []float32{5, 5, 5}, []float32{0, 0, 0})
	approxEqual(t, got, base, 0)
}

// refU32 reimplements the documented random derivation independently of rng.go: draw j of
// stream s is the high (even j) or low (odd j) half of SplitMix64 output j/2+1 from the
// stream key.
func refU32(seed uint64, name string, s uint64, j int) uint64 {
	mix := func(z uint64) uint64 {
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	h := uint64(14695981039346656037)
	for _, c := range []byte(name) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	const g = 0x9e3779b97f4a7c15
	tk := mix(mix(seed) ^ h)
	sk := mix(tk + (s+1)*g)
	x := mix(sk + uint64(j/2+1)*g)
	if j%2 == 0 {
		return x >> 32
	}
	return x & 0xffffffff
}

func TestDAREHandComputed(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n := 1000
	base := randVec(r, n)
	x1, x2 := finetuned(r, base, 1), finetuned(r, base, 1)
	seed := uint64(77)
	dens := []float64{0.3, 0.6}
	w := []float64{1, 0.5}
	// The default, mergekit's: kept elements scaled so each task vector keeps its L1 norm.
	gotL1, _ := mergeVec(t, Options{Method: "dare_linear", Seed: seed, Weights: w, Densities: dens}, base, x1, x2)
	scale := make([]float64, 2)
	for m, x := range [][]float32{x1, x2} {
		var all, kept float64
		for j := range base {
			d := math.Abs(float64(x[j] - base[j]))
			all += d
			if float64(refU32(seed, "w", uint64(m), j))*0x1p-32 < dens[m] {
				kept += d
			}
		}
		scale[m] = all / kept
	}
	for j := range base {
		var mixed float64
		for m, x := range [][]float32{x1, x2} {
			if float64(refU32(seed, "w", uint64(m), j))*0x1p-32 < dens[m] {
				mixed += w[m] * float64(x[j]-base[j]) * scale[m]
			}
		}
		if want := float32(float64(base[j]) + mixed); math.Abs(float64(gotL1[j]-want)) > 1e-6 {
			t.Fatalf("l1: element %d: got %v, want %v", j, gotL1[j], want)
		}
	}
	// The DARE paper's rule, as an option: divide by the density.
	got, _ := mergeVec(t, Options{Method: "dare_linear", Seed: seed, Weights: w, Densities: dens, Params: map[string]any{"rescale_mode": "inverse_density"}}, base, x1, x2)
	keptAny := 0
	for j := range base {
		var mixed float64
		for m, x := range [][]float32{x1, x2} {
			u := float64(refU32(seed, "w", uint64(m), j)) * 0x1p-32
			if u < dens[m] {
				mixed += w[m] * float64(x[j]-base[j]) / dens[m]
				keptAny++
			}
		}
		want := float32(float64(base[j]) + mixed)
		if math.Abs(float64(got[j]-want)) > 1e-6 {
			t.Fatalf("element %d: got %v, want %v", j, got[j], want)
		}
	}
	// About 0.3 n + 0.6 n elements kept.
	if keptAny < 800 || keptAny > 1000 {
		t.Fatalf("kept %d task-vector elements, expected about 900", keptAny)
	}
	// Density 1 is plain task arithmetic.
	got, _ = mergeVec(t, Options{Method: "dare_linear", Seed: seed, Weights: w, Densities: []float64{1, 1}}, base, x1, x2)
	ta, _ := mergeVec(t, Options{Method: "task_arithmetic", Weights: w}, base, x1, x2)
	approxEqual(t, got, ta, 0)
}

func TestDAREL1RescaleKeepsNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	n := 5000
	base := randVec(r, n)
	x1 := finetuned(r, base, 1)
	got, _ := mergeVec(t, Options{Method: "dare_linear", Seed: 3, Densities: []float64{0.4},
		Params: map[string]any{"rescale_mode": "l1"}}, base, x1)
	var before, after float64
	for j := range base {
		before += math.Abs(float64(x1[j] - base[j]))
		after += math.Abs(float64(got[j] - base[j]))
	}
	if math.Abs(before-after)/before > 1e-4 {
		t.Fatalf("L1 of the task vector %g became %g", before, after)
	}
}

func TestDARETiesElectsSign(t *testing.T) {
	base := []float32{0, 0, 0}
	// Density 1: no drop, so dare_ties is TIES without trimming.
	got, _ := mergeVec(t, Options{Method: "dare_ties", Densities: []float64{1, 1, 1}, Params: map[string]any{"normalize": true}},
		base, []float32{1, -1, 2}, []float32{2, -3, -1}, []float32{-1, 1, -2})
	// Element 0: sum 2 > 0, agreeing 1, 2 -> 3/2. Element 1: sum -3, agreeing -1, -3 -> -2.
	// Element 2: sum -1, agreeing -1, -2 -> -1.5.
	approxEqual(t, got, []float32{1.5, -2, -1.5}, 1e-6)
}

func TestSlerp(t *testing.T) {
	got, rep := mergeVec(t, Options{Method: "slerp", Params: map[string]any{"t": 0.5}}, nil, []float32{1, 0}, []float32{0, 1})
	approxEqual(t, got, []float32{float32(math.Sqrt2 / 2), float32(math.Sqrt2 / 2)}, 1e-6)
	if !strings.Contains(rep.Tensors[0].Note, "theta=1.571") {
		t.Errorf("note %q should give the angle", rep.Tensors[0].Note)
	}
	got, _ = mergeVec(t, Options{Method: "slerp", Params: map[string]any{"t": 0.25}}, []float32{2, 0}, []float32{0, 2})
	approxEqual(t, got, []float32{float32(2 * math.Cos(math.Pi/8)), float32(2 * math.Sin(math.Pi/8))}, 1e-6)
	// Parallel endpoints: linear interpolation.
	got, _ = mergeVec(t, Options{Method: "slerp", Params: map[string]any{"t": 0.25}}, nil, []float32{1, 2}, []float32{2, 4})
	approxEqual(t, got, []float32{1.25, 2.5}, 1e-6)
	// t as a layer gradient: the single tensor "w" is outside the layers: t = 0, the gradient's
	// first value (mergekit since fd5eb19, 2025-03), so the first endpoint.
	got, _ = mergeVec(t, Options{Method: "slerp", Params: map[string]any{"t": []float64{0, 1}}}, nil, []float32{1, 0}, []float32{0, 1})
	approxEqual(t, got, []float32{1, 0}, 1e-6)
}

func TestModelStock(t *testing.T) {
	// Orthogonal task vectors: cos 0, t 0, the base.
	got, _ := mergeVec(t, Options{Method: "model_stock"}, []float32{0, 0}, []float32{1, 0}, []float32{0, 1})
	approxEqual(t, got, []float32{0, 0}, 0)
	// d1 = (1,1), d2 = (1,0): cos = 1/sqrt2, t = 2c/(1+c).
	c := 1 / math.Sqrt2
	tt := 2 * c / (1 + c)
	got, rep := mergeVec(t, Options{Method: "model_stock"}, []float32{1, 1}, []float32{2, 2}, []float32{2, 1})
	approxEqual(t, got, []float32{float32(1 + tt), float32(1 + 0.5*tt)}, 1e-6)
	if !strings.Contains(rep.Tensors[0].Note, "t=0.8284") {
		t.Errorf("note %q should give t", rep.Tensors[0].Note)
	}
	// Identical models: cos 1, t 1, the model.
	got, _ = mergeVec(t, Options{Method: "model_stock"}, []float32{1, 1}, []float32{3, 5}, []float32{3, 5}, []float32{3, 5})
	approxEqual(t, got, []float32{3, 5}, 0)
}

func TestSelectionTakesEveryElementFromASource(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	n := 10_000
	models := [][]float32{randVec(r, n), randVec(r, n), randVec(r, n)}
	got, rep := mergeVec(t, Options{Method: "parameter_selection", Seed: 9}, nil, models...)
	counts := make([]int, 3)
	for j, v := range got {
		found := false
		for i, m := range models {
			if m[j] == v {
				counts[i]++
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("element %d = %v is in no model", j, v)
		}
	}
	for i, c := range counts {
		if f := float64(c) / float64(n); math.Abs(f-rep.Total.Taken[i]) > 1e-12 {
			t.Errorf("model %d: report says %.4f taken, counted %.4f", i, rep.Total.Taken[i], f)
		}
		// Distance to the result: the elements not taken from the model.
		var d2 float64
		for j := range got {
			d := float64(models[i][j]) - float64(got[j])
			d2 += d * d
		}
		if math.Abs(math.Sqrt(d2)-rep.Total.Distance[i]) > 1e-6*math.Sqrt(d2) { // differences are taken in float32
			t.Errorf("model %d: distance %g, want %g", i, rep.Total.Distance[i], math.Sqrt(d2))
		}
	}
}

// TestSelectionShares checks each model's share over a large tensor against p_i with a
// chi-square test (df = K-1 = 2; 13.82 is the 0.999 quantile), for several seeds.
func TestSelectionShares(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	n := 300_000
	models := [][]float32{randVec(r, n), randVec(r, n), randVec(r, n)}
	for _, tc := range []struct {
		w []float64
	}{{nil}, {[]float64{5, 3, 2}}, {[]float64{1, 0, 1}}} {
		p := []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}
		if tc.w != nil {
			s := tc.w[0] + tc.w[1] + tc.w[2]
			p = []float64{tc.w[0] / s, tc.w[1] / s, tc.w[2] / s}
		}
		for seed := uint64(1); seed <= 3; seed++ {
			_, rep := mergeVec(t, Options{Method: "parameter_selection", Seed: seed, Weights: tc.w}, nil, models...)
			var chi2 float64
			for i := range p {
				obs := rep.Total.Taken[i] * float64(n)
				exp := p[i] * float64(n)
				if exp == 0 {
					if obs != 0 {
						t.Fatalf("weights %v: model %d has weight 0 but was taken %v times", tc.w, i, obs)
					}
					continue
				}
				chi2 += (obs - exp) * (obs - exp) / exp
			}
			if chi2 > 13.82 {
				t.Errorf("weights %v seed %d: chi-square %.2f > 13.82 (shares %v)", tc.w, seed, chi2, rep.Total.Taken)
			}
		}
	}
}

func TestSelectionResampleNeverKeepsBaseWhenAModelDiffers(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 15))
	n := 50_000
	base := randVec(r, n)
	models := [][]float32{finetuned(r, base, 0.3), finetuned(r, base, 0.3), finetuned(r, base, 0.3)}
	got, rep := mergeVec(t, Options{Method: "parameter_selection", Seed: 4, Params: map[string]any{"resample": true}}, base, models...)
	allEqual := 0
	for j := range got {
		differs := false
		for _, m := range models {
			if m[j] != base[j] {
				differs = true
			}
		}
		if !differs {
			allEqual++
			if got[j] != base[j] {
				t.Fatalf("element %d: every model equals the base, result %v", j, got[j])
			}
			continue
		}
		if got[j] == base[j] {
			t.Fatalf("element %d: kept the base value although a model differs", j)
		}
	}
	if want := float64(allEqual) / float64(n); math.Abs(rep.Total.KeptBase-want) > 1e-12 {
		t.Errorf("kept base %.4f, counted %.4f", rep.Total.KeptBase, want)
	}
	// Each model equals the base on about 70% of its elements.
	for i, f := range rep.Total.BaseEqual {
		if math.Abs(f-0.7) > 0.01 {
			t.Errorf("model %d equal to base on %.3f of elements, expected about 0.7", i, f)
		}
	}
	// Without resampling, the base value is kept wherever the drawn model did not move.
	got2, _ := mergeVec(t, Options{Method: "parameter_selection", Seed: 4}, base, models...)
	keptBase := 0
	for j := range got2 {
		if got2[j] == base[j] {
			keptBase++
		}
	}
	if float64(keptBase)/float64(n) < 0.6 {
		t.Errorf("without resampling only %d of %d elements equal the base; expected about 70%%", keptBase, n)
	}
	// A finite number of redraws lies in between.
	got3, _ := mergeVec(t, Options{Method: "parameter_selection", Seed: 4, Params: map[string]any{"resample": true, "resample_n": 2}}, base, models...)
	kept3 := 0
	for j := range got3 {
		if got3[j] == base[j] {
			kept3++
		}
	}
	if !(allEqual < kept3 && kept3 < keptBase) {
		t.Errorf("base kept: exact resampling %d, 2 redraws %d, none %d: expected increasing", allEqual, kept3, keptBase)
	}
}

func TestSelectionGranularity(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 17))
	rows, cols := 300, 40
	shape := []int{rows, cols}
	mk := func() Model { return shapedModel(t, "w", shape, randVec(r, rows*cols), tensor.F32) }
	models := []Model{mk(), mk(), mk()}
	vals := [][]float32{mustFloat32(t, models[0]["w"]), mustFloat32(t, models[1]["w"]), mustFloat32(t, models[2]["w"])}
	source := func(out []float32, j int) int {
		for i, v := range vals {
			if v[j] == out[j] {
				return i
			}
		}
		return -1
	}
	out, rep, err := Merge(context.Background(), Options{Method: "parameter_selection", Models: models, Seed: 2, Params: map[string]any{"granularity": "row"}, KeepSources: true})
	if err != nil {
		t.Fatal(err)
	}
	o := mustFloat32(t, out["w"])
	perRow := make([]int, 3)
	srcMap := rep.Tensors[0].Source
	if len(srcMap) != rows*cols {
		t.Fatalf("kept %d sources for %d elements", len(srcMap), rows*cols)
	}
	for row := 0; row < rows; row++ {
		s := source(o, row*cols)
		if int(srcMap[row*cols]) != s {
			t.Fatalf("row %d: kept source %d, values from model %d", row, srcMap[row*cols], s)
		}
		for c := 1; c < cols; c++ {
			if source(o, row*cols+c) != s {
				t.Fatalf("row %d mixes models", row)
			}
		}
		perRow[s]++
	}
	for i, c := range perRow {
		if c < 70 || c > 130 {
			t.Errorf("model %d supplied %d of %d rows", i, c, rows)
		}
		if math.Abs(rep.Total.Taken[i]-float64(c)/float64(rows)) > 1e-12 {
			t.Errorf("report share %v for %d rows", rep.Total.Taken[i], c)
		}
	}
	out, _, err = Merge(context.Background(), Options{Method: "parameter_selection", Models: models, Seed: 2, Params: map[string]any{"granularity": "tensor"}})
	if err != nil {
		t.Fatal(err)
	}
	o = mustFloat32(t, out["w"])
	s := source(o, 0)
	for j := range o {
		if source(o, j) != s {
			t.Fatalf("tensor granularity mixes models at element %d", j)
		}
	}
}

func TestSelectionRowResample(t *testing.T) {
	// Model 0 never moved: with resampling at row granularity every row comes from model 1
	// or 2, which moved in every row.
	r := rand.New(rand.NewPCG(18, 19))
	rows, cols := 200, 16
	shape := []int{rows, cols}
	bv := randVec(r, rows*cols)
	base := shapedModel(t, "w", shape, bv, tensor.F32)
	m0 := shapedModel(t, "w", shape, bv, tensor.F32)
	m1 := shapedModel(t, "w", shape, finetuned(r, bv, 0.5), tensor.F32)
	m2 := shapedModel(t, "w", shape, finetuned(r, bv, 0.5), tensor.F32)
	_, rep, err := Merge(context.Background(), Options{Method: "parameter_selection", Base: base, Models: []Model{m0, m1, m2}, Seed: 5,
		Params: map[string]any{"granularity": "row", "resample": true}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Taken[0] != 0 {
		t.Errorf("the unmoved model supplied %.3f of the elements", rep.Total.Taken[0])
	}
	if rep.Total.KeptBase != 0 {
		t.Errorf("kept base in %.3f", rep.Total.KeptBase)
	}
	if rep.Total.BaseEqual[0] != 1 {
		t.Errorf("model 0 equal to base %.3f, want 1", rep.Total.BaseEqual[0])
	}
}

func TestSelectionIsKeyedByTensorName(t *testing.T) {
	base, models := family(t, 20, llamaLike, tensor.BF16, 3, 0.5)
	full, _, err := Merge(context.Background(), Options{Method: "parameter_selection", Base: base, Models: models, Seed: 8, Params: map[string]any{"resample": true}})
	if err != nil {
		t.Fatal(err)
	}
	// Merging one tensor on its own gives the same bytes: the stream depends on the name only.
	name := "model.layers.1.mlp.up_proj.weight"
	var sub []Model
	for _, m := range models {
		sub = append(sub, Model{name: m[name]})
	}
	one, _, err := Merge(context.Background(), Options{Method: "parameter_selection", Base: Model{name: base[name]}, Models: sub, Seed: 8, Params: map[string]any{"resample": true}})
	if err != nil {
		t.Fatal(err)
	}
	if string(one[name].Data) != string(full[name].Data) {
		t.Fatal("merging a tensor alone changed its bytes")
	}
	other, _, err := Merge(context.Background(), Options{Method: "parameter_selection", Base: base, Models: models, Seed: 9, Params: map[string]any{"resample": true}})
	if err != nil {
		t.Fatal(err)
	}
	if string(other[name].Data) == string(full[name].Data) {
		t.Fatal("another seed gave the same bytes")
	}
}

// TestSelectionMatchesDocumentedDerivation recomputes the draws from doc.go's formula.
func TestSelectionMatchesDocumentedDerivation(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	n := 3000
	models := [][]float32{randVec(r, n), randVec(r, n), randVec(r, n)}
	w := []float64{2, 1, 1}
	seed := uint64(123456789)
	got, _ := mergeVec(t, Options{Method: "parameter_selection", Seed: seed, Weights: w}, nil, models...)
	for j := range got {
		u := float64(refU32(seed, "w", 0, j)) * 0x1p-32
		want := 2
		if u < 0.5 {
			want = 0
		} else if u < 0.75 {
			want = 1
		}
		if got[j] != models[want][j] {
			t.Fatalf("element %d: u=%v should select model %d", j, u, want)
		}
	}
}

// The table-driven resampling gives exactly the branchy reference, including zero weights.
func TestResampleTableMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	n := 20_000
	base := randVec(r, n)
	for _, w := range [][]float64{{1, 1, 1}, {2, 0, 1}, {0.1, 5, 0.3, 1}, {1}} {
		b := &Block{Base: base, Out: make([]float32, n), Source: make([]uint8, n)}
		for range w {
			b.Models = append(b.Models, finetuned(r, base, 0.4))
		}
		p := &TensorParams{model: map[string][]float64{"weight": w}, num: map[string]float64{"resample": 1}, str: map[string]string{"granularity": granElement}}
		models := make([]int, len(w))
		kern, err := selection{}.NewKernel(TensorInfo{Name: "x", Shape: []int{n}, Numel: n, Models: models, HasBase: true, Seed: 5}, p)
		if err != nil {
			t.Fatal(err)
		}
		k := kern.(*selectionKernel)
		k.mergeResampleTable(b)
		fast := append([]float32(nil), b.Out...)
		fastSrc := append([]uint8(nil), b.Source...)
		k.mergeResample(b)
		for j := range fast {
			if fast[j] != b.Out[j] || fastSrc[j] != b.Source[j] {
				t.Fatalf("weights %v element %d: table %v (%d), reference %v (%d)", w, j, fast[j], fastSrc[j], b.Out[j], b.Source[j])
			}
		}
	}
}

// Inputs of different float dtypes merge in float32; the output takes the base's dtype, or
// OutDType.
func TestMixedDTypes(t *testing.T) {
	v := []float32{1, 2.5, -3, 0.125}
	w := []float32{3, 0.5, -1, 0.375}
	a := shapedModel(t, "w", []int{4}, v, tensor.BF16)
	b := shapedModel(t, "w", []int{4}, w, tensor.F32)
	c := shapedModel(t, "w", []int{4}, w, tensor.F16)
	out, _, err := Merge(context.Background(), Options{Method: "linear", Models: []Model{a, b, c}})
	if err != nil {
		t.Fatal(err)
	}
	if out["w"].DType != tensor.BF16 {
		t.Errorf("dtype %s, want the first model's BF16", out["w"].DType)
	}
	approxEqual(t, mustFloat32(t, out["w"]), []float32{7.0 / 3, 1.1666666, -5.0 / 3, 0.2916666}, 0.02)
	out, _, err = Merge(context.Background(), Options{Method: "linear", Models: []Model{a, b, c}, OutDType: "f32"})
	if err != nil {
		t.Fatal(err)
	}
	approxEqual(t, mustFloat32(t, out["w"]), []float32{7.0 / 3, 3.5 / 3, -5.0 / 3, 0.875 / 3}, 1e-6)
}
