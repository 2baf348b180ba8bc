package merge

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

func TestNearswapProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	base := randVec(r, 2000)
	x := finetuned(r, base, 0.6)
	thr := 0.01
	got, _ := mergeVec(t, Options{Method: "nearswap", Params: map[string]any{"t": thr}}, base, x)
	for j := range base {
		b, m, g := float64(base[j]), float64(x[j]), float64(got[j])
		d := math.Abs(b - m)
		switch {
		case d <= thr && got[j] != x[j]:
			t.Fatalf("element %d: |base-model| = %v <= t, so the model's value %v, got %v", j, d, m, g)
		case g < math.Min(b, m)-1e-7 || g > math.Max(b, m)+1e-7:
			t.Fatalf("element %d: %v is outside [base, model] = [%v, %v]", j, g, b, m)
		case d > thr && math.Abs(math.Abs(g-b)-thr) > 1e-6:
			// A large difference moves exactly t towards the model: w*|d| = t.
			t.Fatalf("element %d: moved %v from the base, want t = %v", j, math.Abs(g-b), thr)
		}
	}
	if _, _, err := Merge(t.Context(), Options{Method: "nearswap", Base: vecModel(t, base), Models: []Model{vecModel(t, x)}, Params: map[string]any{"t": 0.0}}); err == nil || !strings.Contains(err.Error(), "must be > 0") {
		t.Fatalf("t = 0: %v", err)
	}
}

func TestNuslerpProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	a, b := randVec(r, 64*8), randVec(r, 64*8)
	nu := func(params map[string]any, w []float64, m ...[]float32) []float32 {
		out, _ := mergeVec(t, Options{Method: "nuslerp", Weights: w, Params: params}, nil, m...)
		return out
	}
	// Whole tensor: the same as slerp at t = w2/(w1+w2) between the two models.
	sl, _ := mergeVec(t, Options{Method: "slerp", Params: map[string]any{"t": 0.25}}, nil, a, b)
	approxEqual(t, nu(nil, []float64{3, 1}, a, b), sl, 1e-6)
	// Swapping the models and their weights gives the same merge.
	approxEqual(t, nu(nil, []float64{1, 3}, b, a), sl, 1e-6)
	// The weight of one model 0: that model's weights drop out exactly.
	approxEqual(t, nu(nil, []float64{1, 0}, a, b), a, 1e-6)
	// Per row (last dimension) and per column: each vector is slerped on its own.
	shaped := func(v []float32) Model { return shapedModel(t, "w", []int{8, 64}, v, tensor.F32) }
	for _, rowWise := range []bool{false, true} {
		out, _, err := Merge(t.Context(), Options{Method: "nuslerp", Models: []Model{shaped(a), shaped(b)}, Weights: []float64{1, 1},
			Params: map[string]any{"nuslerp_flatten": false, "nuslerp_row_wise": rowWise}})
		if err != nil {
			t.Fatal(err)
		}
		got := mustFloat32(t, out["w"])
		vecs := [][]int{}
		for g := 0; g < map[bool]int{false: 8, true: 64}[rowWise]; g++ {
			var idx []int
			for i := 0; i < map[bool]int{false: 64, true: 8}[rowWise]; i++ {
				if rowWise {
					idx = append(idx, i*64+g)
				} else {
					idx = append(idx, g*64+i)
				}
			}
			vecs = append(vecs, idx)
		}
		for _, idx := range vecs {
			va, vb := make([]float32, len(idx)), make([]float32, len(idx))
			for i, j := range idx {
				va[i], vb[i] = a[j], b[j]
			}
			want, _ := mergeVec(t, Options{Method: "slerp", Params: map[string]any{"t": 0.5}}, nil, va, vb)
			for i, j := range idx {
				if math.Abs(float64(got[j]-want[i])) > 1e-6 {
					t.Fatalf("row_wise %v: element %d: %v, want %v", rowWise, j, got[j], want[i])
				}
			}
		}
	}
}

func TestBreadcrumbsKeepsTheMiddleMagnitudes(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	n := 5000
	base := randVec(r, n)
	x := finetuned(r, base, 1)
	density, gamma := 0.6, 0.1
	got, _ := mergeVec(t, Options{Method: "breadcrumbs", Densities: []float64{density}, Params: map[string]any{}, ModelParams: []map[string]any{{"gamma": gamma}}}, base, x)
	// Rank the magnitudes: the kept ones are ranks [nBot, n-nTop) in ascending order.
	idx := make([]int, n)
	for j := range idx {
		idx[j] = j
	}
	mag := func(j int) float32 { return float32(math.Abs(float64(x[j] - base[j]))) }
	sort.SliceStable(idx, func(p, q int) bool { return mag(idx[p]) < mag(idx[q]) })
	nTop := int(gamma * float64(n))
	nBot := n - int(density*float64(n)) - nTop
	keep := make([]bool, n)
	for _, j := range idx[nBot : n-nTop] {
		keep[j] = true
	}
	for j := range base {
		want := base[j]
		if keep[j] {
			want = x[j]
		}
		if math.Abs(float64(got[j]-want)) > 1e-6 {
			t.Fatalf("element %d (kept %v): %v, want %v", j, keep[j], got[j], want)
		}
	}
	// breadcrumbs_ties with one model is the same merge (every kept delta agrees with itself).
	gotTies, _ := mergeVec(t, Options{Method: "breadcrumbs_ties", Densities: []float64{density}, ModelParams: []map[string]any{{"gamma": gamma}}}, base, x)
	if !slices.Equal(got, gotTies) {
		t.Fatal("breadcrumbs_ties with one model differs from breadcrumbs")
	}
}

func TestDellaAtDensityOne(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	base := randVec(r, 3000)
	x1, x2 := finetuned(r, base, 0.7), finetuned(r, base, 0.7)
	w := []float64{0.7, -0.3}
	for _, c := range [][2]string{{"della", "ties"}, {"della_linear", "task_arithmetic"}} {
		got, _ := mergeVec(t, Options{Method: c[0], Weights: w, Params: map[string]any{"lambda": 1.5}}, base, x1, x2)
		want, _ := mergeVec(t, Options{Method: c[1], Weights: w, Params: map[string]any{"lambda": 1.5}}, base, x1, x2)
		if !slices.Equal(got, want) {
			t.Fatalf("%s at density 1 differs from %s", c[0], c[1])
		}
	}
	_, _, err := Merge(t.Context(), Options{Method: "della", Base: vecModel(t, base), Models: []Model{vecModel(t, x1)}, Densities: []float64{0.5}})
	if err == nil || !strings.Contains(err.Error(), "only density 1") {
		t.Fatalf("della at density 0.5: %v", err)
	}
}

func TestLinearAveragesTheBaseIn(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	base := randVec(r, 500)
	a, b := finetuned(r, base, 0.5), finetuned(r, base, 0.5)
	got, _ := mergeVec(t, Options{Method: "linear", Weights: []float64{1, 3}, Params: map[string]any{"weight": 0.5}}, base, a, b)
	old, _ := mergeVec(t, Options{Method: "linear", Weights: []float64{1, 3}, Params: map[string]any{"include_base": false}}, base, a, b)
	for j := range base {
		want := (float64(a[j]) + 3*float64(b[j]) + 0.5*float64(base[j])) / 4.5
		if math.Abs(float64(got[j])-want) > 1e-6 {
			t.Fatalf("element %d: %v, want %v (the base weighs 0.5, the top-level weight)", j, got[j], want)
		}
		if want := (float64(a[j]) + 3*float64(b[j])) / 4; math.Abs(float64(old[j])-want) > 1e-6 {
			t.Fatalf("include_base false: element %d: %v, want %v", j, old[j], want)
		}
	}
}
