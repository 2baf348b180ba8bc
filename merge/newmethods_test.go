package merge

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
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

// equalNorm returns b rescaled to a's norm.
func equalNorm(a, b []float32) []float32 {
	var na, nb float64
	for j := range a {
		na += float64(a[j]) * float64(a[j])
		nb += float64(b[j]) * float64(b[j])
	}
	out := make([]float32, len(b))
	for j, v := range b {
		out[j] = float32(float64(v) * math.Sqrt(na/nb))
	}
	return out
}

func TestKarcherAndMultislerpProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	a := randVec(r, 3000)
	b := equalNorm(a, randVec(r, 3000))
	// Two vectors of equal norm: the spherical mean is slerp's midpoint.
	mid, _ := mergeVec(t, Options{Method: "slerp", Params: map[string]any{"t": 0.5}}, nil, a, b)
	ka, _ := mergeVec(t, Options{Method: "karcher"}, nil, a, b)
	approxEqual(t, ka, mid, 1e-5)
	ms, _ := mergeVec(t, Options{Method: "multislerp", Weights: []float64{1, 1}}, nil, a, b)
	approxEqual(t, ms, mid, 1e-5)
	// Copies of one model: the model itself.
	same, _ := mergeVec(t, Options{Method: "karcher"}, nil, a, a, a)
	approxEqual(t, same, a, 1e-6)
	// Parallel inputs: their direction, at the weighted mean norm (2/3*1 + 1/3*2 = 4/3).
	twice := make([]float32, len(a))
	for j, v := range a {
		twice[j] = 2 * v
	}
	par, _ := mergeVec(t, Options{Method: "multislerp", Weights: []float64{2, 1}}, nil, a, twice)
	want := make([]float32, len(a))
	for j, v := range a {
		want[j] = v * 4 / 3
	}
	approxEqual(t, par, want, 1e-5)
	// Antipodal inputs with balancing weights (three of them): refused, naming the tensor.
	neg := make([]float32, len(a))
	for j, v := range a {
		neg[j] = -v
	}
	_, _, err := Merge(t.Context(), Options{Method: "multislerp", Models: []Model{vecModel(t, a), vecModel(t, neg), vecModel(t, a)}, Weights: []float64{1, 2, 1}})
	if err == nil || !strings.Contains(err.Error(), "tensor w: multislerp: the weighted sum of the unit vectors is zero") {
		t.Fatalf("antipodal: %v", err)
	}
}

func TestSCEProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	n := 4000
	base := randVec(r, n)
	x1, x2 := finetuned(r, base, 0.6), finetuned(r, base, 0.6)
	// One model, everything selected: the model back.
	one, _ := mergeVec(t, Options{Method: "sce"}, base, x1)
	approxEqual(t, one, x1, 1e-6)
	checkSCETopK(t, base, x1, x2)
	// Few distinct variances (quantised task vectors on a zero base), over several blocks:
	// many ties at the cut, kept in element order.
	n = 2*blockElems + 1234
	base = make([]float32, n)
	x1, x2 = make([]float32, n), make([]float32, n)
	for j := range base {
		x1[j] = float32(r.IntN(5)-2) / 1024
		x2[j] = float32(r.IntN(5)-2) / 1024
	}
	checkSCETopK(t, base, x1, x2)
}

// checkSCETopK: with select_topk, exactly int(topk * nonzero variances) elements move, those
// of the largest variances (the first in element order among equal ones).
func checkSCETopK(t *testing.T, base, x1, x2 []float32) {
	t.Helper()
	topk := 0.4
	got, _ := mergeVec(t, Options{Method: "sce", Params: map[string]any{"select_topk": topk}}, base, x1, x2)
	type ev struct {
		j int
		v float64
	}
	var vs []ev
	for j := range base {
		d1, d2 := float64(x1[j]-base[j]), float64(x2[j]-base[j])
		m := (d1 + d2) / 2
		if v := float64(float32(((d1-m)*(d1-m) + (d2-m)*(d2-m)) / 2)); v != 0 {
			vs = append(vs, ev{j, v})
		}
	}
	sort.SliceStable(vs, func(p, q int) bool { return vs[p].v > vs[q].v })
	sel := map[int]bool{}
	for _, e := range vs[:int(topk*float64(len(vs)))] {
		sel[e.j] = true
	}
	for j := range base {
		if !sel[j] && got[j] != base[j] {
			t.Fatalf("element %d is not selected but moved from the base", j)
		}
		if sel[j] && got[j] == base[j] {
			t.Fatalf("element %d is selected (variance > 0) but kept the base", j)
		}
	}
}

func TestModelStockFilterWiseIsPerRow(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	rows, cols := 6, 50
	base := randVec(r, rows*cols)
	x1, x2 := finetuned(r, base, 0.8), finetuned(r, base, 0.8)
	m := func(v []float32) Model { return shapedModel(t, "w", []int{rows, cols}, v, tensor.F32) }
	out, _, err := Merge(t.Context(), Options{Method: "model_stock", Base: m(base), Models: []Model{m(x1), m(x2)}, Params: map[string]any{"filter_wise": true}})
	if err != nil {
		t.Fatal(err)
	}
	got := mustFloat32(t, out["w"])
	for row := 0; row < rows; row++ {
		s := row * cols
		want, _ := mergeVec(t, Options{Method: "model_stock"}, base[s:s+cols], x1[s:s+cols], x2[s:s+cols])
		approxEqual(t, got[s:s+cols], want, 1e-6)
	}
}

// TestTIESMatchesTorch runs TIES on values with many equal magnitudes (so the top-k cut falls
// among ties) in float32 and in bf16 compute, against mergekit's rule run by PyTorch
// (testdata/ties_torch.py): the same elements are kept, and in bf16 every rounding agrees.
func TestTIESMatchesTorch(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skip("no PyTorch under /usr/bin/python3")
	}
	r := rand.New(rand.NewPCG(27, 28))
	n, k := 30000, 3
	quant := func() []float32 { // few distinct magnitudes: ties everywhere
		v := make([]float32, n)
		for j := range v {
			v[j] = float32(r.IntN(9)-4) / 64
		}
		return v
	}
	base := randVec(r, n)
	roundAll(tensor.BF16, base)
	models := make([][]float32, k)
	for i := range models {
		q := quant()
		models[i] = make([]float32, n)
		for j := range q {
			models[i][j] = RoundTo(tensor.BF16, base[j]+q[j])
		}
	}
	w, dens := []float64{0.5, 0.3, 0.7}, []float64{0.4, 0.55, 0.3}
	for _, dt := range []string{"f32", "bf16"} {
		var in bytes.Buffer
		fmt.Fprintf(&in, `{"n":%d,"k":%d,"weights":[0.5,0.3,0.7],"densities":[0.4,0.55,0.3],"dtype":%q}`+"\n", n, k, dt)
		for _, v := range append([][]float32{base}, models...) {
			binary.Write(&in, binary.LittleEndian, v)
		}
		cmd := exec.Command(py, "testdata/ties_torch.py")
		cmd.Stdin = &in
		raw, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: torch: %v", dt, err)
		}
		want := make([]float32, n)
		if err := binary.Read(bytes.NewReader(raw), binary.LittleEndian, want); err != nil {
			t.Fatal(err)
		}
		opt := Options{Method: "ties", Weights: w, Densities: dens}
		if dt == "bf16" {
			opt.DType = "bfloat16"
		}
		got, _ := mergeVec(t, opt, base, models...)
		bad := 0
		for j := range got {
			if got[j] != want[j] && math.Abs(float64(got[j]-want[j])) > 1e-6 {
				if bad < 5 {
					t.Errorf("%s: element %d: %v, torch %v", dt, j, got[j], want[j])
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d elements differ", dt, bad, n)
		}
	}
}

func TestRAMHandComputed(t *testing.T) {
	base := []float32{0, 0, 0, 0, 0, 0}
	d1 := []float32{1, 0, 2, 0, 0, 1e-6} // the last is under epsilon: it does not count
	d2 := []float32{0, 0, 4, 3, 5, 0}
	got, _ := mergeVec(t, Options{Method: "ram"}, base, d1, d2)
	approxEqual(t, got, []float32{1, 0, 3, 3, 5, 0}, 1e-7)
	// ramplus_tl: model 1 has 1 unique and 1 shared element (rho 1, capped at alpha 0.8):
	// lambda 1 + 0.5*0.8 = 1.4; model 2 has 2 unique and 1 shared (rho 0.5): 1.25.
	got, _ = mergeVec(t, Options{Method: "ramplus_tl", Params: map[string]any{"r": 0.5, "alpha": 0.8}}, base, d1, d2)
	approxEqual(t, got, []float32{1.4, 0, 3, 3.75, 6.25, 0}, 1e-6)
	// One model: every element it moves is unique, so ram gives the model back.
	r := rand.New(rand.NewPCG(29, 30))
	b := randVec(r, 1000)
	x := finetuned(r, b, 0.5)
	one, _ := mergeVec(t, Options{Method: "ram"}, b, x)
	approxEqual(t, one, x, 1e-6)
}

func TestArceeFusionTakesTheOutliers(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	rows, cols := 40, 64
	n := rows * cols
	base := randVec(r, n)
	x := finetuned(r, base, 0.7)
	m := func(v []float32) Model { return shapedModel(t, "w", []int{rows, cols}, v, tensor.F32) }
	out, _, err := Merge(t.Context(), Options{Method: "arcee_fusion", Base: m(base), Models: []Model{m(x)}})
	if err != nil {
		t.Fatal(err)
	}
	got := mustFloat32(t, out["w"])
	// Directly: softmax per row, KL per row, importances, sorted quartiles.
	imp := make([]float64, n)
	for row := 0; row < rows; row++ {
		xs, bs := x[row*cols:(row+1)*cols], base[row*cols:(row+1)*cols]
		softmax := func(v []float32) []float64 {
			mx := math.Inf(-1)
			for _, a := range v {
				mx = math.Max(mx, float64(a))
			}
			var s float64
			out := make([]float64, len(v))
			for i, a := range v {
				out[i] = math.Exp(float64(a) - mx)
				s += out[i]
			}
			for i := range out {
				out[i] = out[i]/s + 1e-8
			}
			return out
		}
		p, q := softmax(xs), softmax(bs)
		var kl float64
		for i := range p {
			kl += p[i] * math.Log(p[i]/q[i])
		}
		for i := range xs {
			imp[row*cols+i] = math.Abs(float64(xs[i]-bs[i])) * kl
		}
	}
	sorted := append([]float64(nil), imp...)
	sort.Float64s(sorted)
	at := func(q float64) float64 { return sorted[int(q*float64(n-1))] }
	thr := at(0.5) + 1.5*(at(0.75)-at(0.25))
	taken := 0
	for j := range got {
		want := base[j]
		if imp[j] >= thr*(1+1e-6) {
			want = x[j]
		} else if imp[j] > thr*(1-1e-6) {
			continue // at the threshold: float32 rounding decides
		}
		if math.Abs(float64(got[j]-want)) > 1e-7 {
			t.Fatalf("element %d (importance %v, threshold %v): %v, want %v", j, imp[j], thr, got[j], want)
		}
		if want == x[j] && x[j] != base[j] {
			taken++
		}
	}
	if taken == 0 || taken > n/2 {
		t.Fatalf("took %d of %d elements from the model: the outlier rule should take a few", taken, n)
	}
}

// TestSCEVarKeyAtMatchesVarKeys: the weights' pass recomputes single variances for the
// elements at the cut's bucket; they must be bit for bit the ones the runs computed (the
// vector body and the scalar tail alike).
func TestSCEVarKeyAtMatchesVarKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{1, 2, 3, 5} {
		for _, n := range []int{1, 7, 4096, 5000} {
			b := &Block{Base: make([]float32, n)}
			for j := range b.Base {
				b.Base[j] = float32(rng.NormFloat64())
			}
			for range k {
				x := make([]float32, n)
				for j := range x {
					x[j] = b.Base[j] + float32(rng.NormFloat64()*1e-3)
					if rng.IntN(4) == 0 {
						x[j] = b.Base[j]
					}
				}
				b.Models = append(b.Models, x)
			}
			kern := &sceKernel{k: k}
			keys := append([]uint32(nil), kern.varKeys(b)...)
			for j, want := range keys {
				if got := kern.varKeyAt(b, j); got != want {
					t.Fatalf("k=%d n=%d element %d: varKeyAt %#x, varKeys %#x", k, n, j, got, want)
				}
			}
		}
	}
}
