package cpu

import (
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/internal/seeded"
	"math"
	"testing"

	"github.com/ordermerge/ordermerge/internal/gradcheck"
)

// dot64 is sum(a*b) in float64: the scalar "loss" whose gradient the op tests check.
func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// checkGrad compares the analytic gradient got of f with respect to x against central
// differences on up to 40 elements (step 1e-2, tolerance 1e-2 relative).
func checkGrad(t *testing.T, name string, x, got []float32, f func() float64) {
	t.Helper()
	worst := gradcheck.Check(t, name, x, got, f, 1e-2, 40, 1e-2, 1e-2)
	t.Logf("%s: worst relative difference %.2g", name, worst)
}

// opBackends are the backends every op test runs on: the pure-Go one with an odd thread
// count (chunks of unequal size), and OpenBLAS when built in.
func opBackends(t *testing.T) []Backend {
	bes := []Backend{NewGoBackend(3)}
	if HaveOpenBLAS() {
		be, err := NewBackend(BackendOpenBLAS, 2)
		if err != nil {
			t.Fatal(err)
		}
		bes = append(bes, be)
	}
	return bes
}

func TestLinearGrad(t *testing.T) {
	for _, be := range opBackends(t) {
		rng := seeded.New(3)
		n, in, out := 5, 7, 6
		x, w, r := rng.Normals(n*in, 1), rng.Normals(out*in, 1), rng.Normals(n*out, 1)
		y := make([]float32, n*out)
		f := func() float64 { LinearForward(be, y, x, w, n, in, out); return dot64(y, r) }
		dx, dw := make([]float32, n*in), make([]float32, out*in)
		LinearBackward(be, dx, dw, r, x, w, n, in, out, false)
		checkGrad(t, be.Name()+" linear dx", x, dx, f)
		checkGrad(t, be.Name()+" linear dw", w, dw, f)
		// accumulate adds to what is there; dw always accumulates.
		dx2, dw2 := append([]float32(nil), dx...), append([]float32(nil), dw...)
		LinearBackward(be, dx2, dw2, r, x, w, n, in, out, true)
		for i := range dx {
			if math.Abs(float64(dx2[i]-2*dx[i])) > 1e-5 {
				t.Fatalf("accumulate: dx[%d] = %v, want %v", i, dx2[i], 2*dx[i])
			}
		}
		for i := range dw {
			if math.Abs(float64(dw2[i]-2*dw[i])) > 1e-5 {
				t.Fatalf("dw must accumulate: dw[%d] = %v, want %v", i, dw2[i], 2*dw[i])
			}
		}
	}
}

func TestRMSNormGrad(t *testing.T) {
	for _, be := range opBackends(t) {
		rng := seeded.New(4)
		n, d := 6, 10
		x, w, r := rng.Normals(n*d, 1), rng.Normals(d, 1), rng.Normals(n*d, 1)
		y, rstd := make([]float32, n*d), make([]float32, n)
		f := func() float64 { RMSNormForward(be, y, rstd, x, w, n, d, 1e-5); return dot64(y, r) }
		f()
		// Forward against the formula.
		for i := 0; i < n; i++ {
			var ss float64
			for j := 0; j < d; j++ {
				ss += float64(x[i*d+j]) * float64(x[i*d+j])
			}
			rs := 1 / math.Sqrt(ss/float64(d)+1e-5)
			for j := 0; j < d; j++ {
				if want := float64(x[i*d+j]) * rs * float64(w[j]); math.Abs(want-float64(y[i*d+j])) > 1e-5 {
					t.Fatalf("rmsnorm[%d,%d] = %v, want %v", i, j, y[i*d+j], want)
				}
			}
		}
		ap := make([]float32, n*d)
		RMSNormApply(be, ap, rstd, x, w, n, d)
		for i := range ap {
			if ap[i] != y[i] {
				t.Fatalf("RMSNormApply differs from the forward output at %d", i)
			}
		}
		dx, dw := make([]float32, n*d), make([]float32, d)
		RMSNormBackward(be, dx, dw, r, x, w, rstd, n, d)
		checkGrad(t, be.Name()+" rmsnorm dx", x, dx, f)
		checkGrad(t, be.Name()+" rmsnorm dw", w, dw, f)
	}
}

func TestRoPEGradAndConvention(t *testing.T) {
	be := NewGoBackend(2)
	rng := seeded.New(5)
	hd, heads, n, ld, col := 8, 3, 5, 30, 2
	rope, err := NewRoPE(hd, 16, 10000)
	if err != nil {
		t.Fatal(err)
	}
	pos := []int32{0, 3, 7, 15, 1}
	x0 := rng.Normals(n*ld, 1)
	x := append([]float32(nil), x0...)
	rope.Forward(be, x, n, ld, col, heads, pos)
	// transformers: out = x*cos + rotate_half(x)*sin, rotate_half(x) = cat(-x2, x1),
	// angle of dims i and i+hd/2 = pos * 10000^(-2i/hd).
	for i := 0; i < n; i++ {
		for j := 0; j < ld; j++ {
			if j < col || j >= col+heads*hd {
				if x[i*ld+j] != x0[i*ld+j] {
					t.Fatalf("column %d outside the heads changed", j)
				}
				continue
			}
			hj := (j - col) % hd
			base := i*ld + j - hj
			half := hd / 2
			fi := hj % half
			ang := float64(pos[i]) * math.Pow(10000, -2*float64(fi)/float64(hd))
			var rot float64
			if hj < half {
				rot = -float64(x0[base+hj+half])
			} else {
				rot = float64(x0[base+hj-half])
			}
			want := float64(x0[base+hj])*math.Cos(ang) + rot*math.Sin(ang)
			if math.Abs(want-float64(x[i*ld+j])) > 1e-5 {
				t.Fatalf("rope row %d col %d = %v, want %v", i, j, x[i*ld+j], want)
			}
		}
	}
	r := rng.Normals(n*ld, 1)
	f := func() float64 {
		y := append([]float32(nil), x0...)
		rope.Forward(be, y, n, ld, col, heads, pos)
		return dot64(y, r)
	}
	dx := append([]float32(nil), r...)
	rope.Backward(be, dx, n, ld, col, heads, pos)
	checkGrad(t, "rope", x0, dx, f)
}

// naiveAttention is the textbook causal grouped-query attention in float64.
func naiveAttention(s compute.AttentionShape, qkv []float32) []float64 {
	first := func(i int) int { return 0 }
	if s.Window > 0 {
		first = func(i int) int { return max(0, i-s.Window+1) }
	}
	ld, D, T, hd := s.QKVWidth(), s.Heads*s.HeadDim, s.T, s.HeadDim
	out := make([]float64, s.B*T*D)
	for b := 0; b < s.B; b++ {
		for h := 0; h < s.Heads; h++ {
			g := h / (s.Heads / s.KVHeads)
			for i := 0; i < T; i++ {
				sc := make([]float64, i+1)
				m := math.Inf(-1)
				for j := 0; j <= i; j++ {
					if j < first(i) {
						sc[j] = math.Inf(-1)
						continue
					}
					var d float64
					for c := 0; c < hd; c++ {
						d += float64(qkv[(b*T+i)*ld+h*hd+c]) * float64(qkv[(b*T+j)*ld+(s.Heads+g)*hd+c])
					}
					sc[j] = d / math.Sqrt(float64(hd))
					m = math.Max(m, sc[j])
				}
				var sum float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - m)
					sum += sc[j]
				}
				for c := 0; c < hd; c++ {
					var o float64
					for j := 0; j <= i; j++ {
						o += sc[j] / sum * float64(qkv[(b*T+j)*ld+(s.Heads+s.KVHeads+g)*hd+c])
					}
					out[(b*T+i)*D+h*hd+c] = o
				}
			}
		}
	}
	return out
}

func TestAttentionForwardAndGrad(t *testing.T) {
	for _, be := range opBackends(t) {
		rng := seeded.New(6)
		// T = 37 spans two causal row blocks, one partial; 4 query heads share 2 KV heads.
		for _, window := range []int{0, 9} {
			s := compute.AttentionShape{B: 2, T: 37, Heads: 4, KVHeads: 2, HeadDim: 4, Window: window}
			ld, D := s.QKVWidth(), s.Heads*s.HeadDim
			qkv := rng.Normals(s.B*s.T*ld, 1)
			out, att := make([]float32, s.B*s.T*D), make([]float32, s.ProbsSize())
			AttentionForward(be, s, out, att, qkv)
			want := naiveAttention(s, qkv)
			for i := range want {
				if math.Abs(want[i]-float64(out[i])) > 1e-5 {
					t.Fatalf("%s attention out[%d] = %v, want %v", be.Name(), i, out[i], want[i])
				}
			}
			r := rng.Normals(len(out), 1)
			f := func() float64 { AttentionForward(be, s, out, att, qkv); return dot64(out, r) }
			f()
			dqkv := make([]float32, len(qkv))
			for i := range dqkv {
				dqkv[i] = float32(math.NaN()) // must be overwritten
			}
			scratch := make([]float32, AttentionScratchSize(s, be.Threads()))
			AttentionBackward(be, s, dqkv, r, qkv, att, scratch)
			for i, v := range dqkv {
				if math.IsNaN(float64(v)) {
					t.Fatalf("dqkv[%d] not written", i)
				}
			}
			checkGrad(t, fmt.Sprintf("%s attention (window %d) dqkv", be.Name(), window), qkv, dqkv, f)
		}
	}
}

// TestRMSNormStridedGrad: the per-head norm of Qwen3 (vectors strided inside qkv rows),
// forward against the packed function on the same vectors, and its backward (adding, and
// replacing in place) against finite differences.
func TestRMSNormStridedGrad(t *testing.T) {
	be := NewGoBackend(3)
	d := NewDevice(be)
	rng := seeded.New(12)
	rows, heads, hd, ld, col := 5, 3, 4, 29, 2 // heads of hd values from column col of rows of ld
	s := compute.Norm{Rows: rows * heads, D: hd, Eps: 1e-6, LD: ld, Col: col, Group: heads}
	x := rng.Normals(rows*ld, 1)
	w, r := rng.Normals(hd, 1), rng.Normals(rows*ld, 1)
	xb, wb, rb := d.Wrap(x), d.Wrap(w), d.Wrap(r)
	y, rstd := make([]float32, rows*ld), make([]float32, rows*heads)
	yb, rstdb := d.Wrap(y), d.Wrap(rstd)
	f := func() float64 {
		d.RMSNorm(yb, rstdb, xb, wb, s)
		var v float64
		for i := 0; i < s.Rows; i++ {
			o := s.Offset(i)
			v += dot64(y[o:o+hd], r[o:o+hd])
		}
		return v
	}
	f()
	// The same vectors packed give the same values.
	packed := make([]float32, s.Rows*hd)
	for i := 0; i < s.Rows; i++ {
		copy(packed[i*hd:], x[s.Offset(i):s.Offset(i)+hd])
	}
	py, prs := make([]float32, len(packed)), make([]float32, s.Rows)
	RMSNormForward(be, py, prs, packed, w, s.Rows, hd, 1e-6)
	for i := 0; i < s.Rows; i++ {
		for j := 0; j < hd; j++ {
			if py[i*hd+j] != y[s.Offset(i)+j] {
				t.Fatalf("strided rmsnorm vector %d differs from the packed one", i)
			}
		}
	}
	dx, dw := make([]float32, rows*ld), make([]float32, hd)
	d.RMSNormBackward(d.Wrap(dx), compute.Buf{}, d.Wrap(dw), rb, xb, wb, rstdb, s)
	checkGrad(t, "strided rmsnorm dx", x, dx, f)
	checkGrad(t, "strided rmsnorm dw", w, dw, f)
	// Replace in place: dout's vectors become the gradient, everything else stays.
	inplace := append([]float32(nil), r...)
	dw2 := make([]float32, hd)
	rs := s
	rs.Replace = true
	d.RMSNormBackward(d.Wrap(inplace), compute.Buf{}, d.Wrap(dw2), d.Wrap(inplace), xb, wb, rstdb, rs)
	for i := range inplace {
		if inplace[i] != dx[i] && dx[i] != 0 {
			t.Fatalf("replace in place: element %d is %v, the gradient %v", i, inplace[i], dx[i])
		}
		if dx[i] == 0 && inplace[i] != r[i] {
			t.Fatalf("replace in place changed element %d outside the vectors", i)
		}
	}
	for j := range dw {
		if dw[j] != dw2[j] {
			t.Fatalf("replace: dw[%d] %v, adding %v", j, dw2[j], dw[j])
		}
	}
}

func TestBiasGrad(t *testing.T) {
	be := NewGoBackend(2)
	rng := seeded.New(13)
	rows, cols := 7, 11
	x0, b, r := rng.Normals(rows*cols, 1), rng.Normals(cols, 1), rng.Normals(rows*cols, 1)
	x := make([]float32, len(x0))
	f := func() float64 {
		copy(x, x0)
		BiasForward(be, x, b, rows, cols)
		return dot64(x, r)
	}
	f()
	for i := range x {
		if x[i] != x0[i]+b[i%cols] {
			t.Fatalf("bias: x[%d] = %v, want %v", i, x[i], x0[i]+b[i%cols])
		}
	}
	db := make([]float32, cols)
	BiasBackward(be, db, r, rows, cols)
	checkGrad(t, "bias", b, db, f)
}

func TestSwiGLUGrad(t *testing.T) {
	be := NewGoBackend(2)
	rng := seeded.New(7)
	n, f := 4, 9
	gu, r := rng.Normals(n*2*f, 2), rng.Normals(n*f, 1)
	h := make([]float32, n*f)
	fn := func() float64 { SwiGLUForward(be, h, gu, n, f); return dot64(h, r) }
	fn()
	for i := 0; i < n; i++ {
		for j := 0; j < f; j++ {
			g, u := float64(gu[2*i*f+j]), float64(gu[(2*i+1)*f+j])
			if want := g / (1 + math.Exp(-g)) * u; math.Abs(want-float64(h[i*f+j])) > 1e-5 {
				t.Fatalf("swiglu[%d,%d] = %v, want %v", i, j, h[i*f+j], want)
			}
		}
	}
	dgu, h2 := make([]float32, len(gu)), make([]float32, len(h))
	SwiGLUBackward(be, dgu, h2, r, gu, n, f)
	for i := range h {
		if h2[i] != h[i] {
			t.Fatalf("SwiGLUBackward recomputed h[%d] = %v, forward gave %v", i, h2[i], h[i])
		}
	}
	checkGrad(t, "swiglu", gu, dgu, fn)
}

func TestEmbeddingGrad(t *testing.T) {
	be := NewGoBackend(3)
	rng := seeded.New(8)
	v, d := 5, 6
	ids := []int32{3, 0, 3, 4, 3, 1}
	table, r := rng.Normals(v*d, 1), rng.Normals(len(ids)*d, 1)
	out := make([]float32, len(ids)*d)
	f := func() float64 { EmbeddingForward(be, out, table, ids, d); return dot64(out, r) }
	f()
	for i, id := range ids {
		for j := 0; j < d; j++ {
			if out[i*d+j] != table[int(id)*d+j] {
				t.Fatal("embedding forward is not a row copy")
			}
		}
	}
	dt := make([]float32, v*d)
	EmbeddingBackward(be, dt, r, ids, d)
	checkGrad(t, "embedding", table, dt, f)
}

func TestResidual(t *testing.T) {
	be := NewGoBackend(3)
	rng := seeded.New(9)
	a, b := rng.Normals(3000, 1), rng.Normals(3000, 1)
	out := make([]float32, 3000)
	Add(be, out, a, b)
	AddTo(be, a, b)
	for i := range out {
		if out[i] != a[i] || out[i] == 0 {
			t.Fatalf("Add and AddTo disagree at %d", i)
		}
	}
}

func TestHeadLossValuesAndGrad(t *testing.T) {
	for _, be := range opBackends(t) {
		rng := seeded.New(10)
		n, d, v := 40, 5, 11
		x, w := rng.Normals(n*d, 1), rng.Normals(v*d, 1)
		targets, scale := make([]int32, n), make([]float32, n)
		for i := range targets {
			targets[i] = int32(rng.Intn(v))
			scale[i] = float32(rng.Float64())
			if i%3 == 1 {
				targets[i] = -1 - int32(rng.Intn(100)) // any negative target is masked
				scale[i] = 9
			}
		}
		// A tiny budget gives chunks of the 16-row minimum (three here); a big one, one chunk.
		for _, budget := range []int{1, 1 << 20} {
			scratch := make([]float32, HeadLossScratchSize(n, d, v, budget))
			loss := make([]float32, n)
			f := func() float64 {
				HeadLoss(be, loss, x, w, targets, scale, nil, nil, scratch, n, d, v, budget)
				var s float64
				for i := range loss {
					s += float64(scale[i]) * float64(loss[i])
				}
				return s
			}
			f()
			for i, tg := range targets {
				if tg < 0 {
					if loss[i] != 0 {
						t.Fatalf("masked row %d has loss %v", i, loss[i])
					}
					continue
				}
				z := make([]float64, v)
				m := math.Inf(-1)
				for j := range z {
					for c := 0; c < d; c++ {
						z[j] += float64(x[i*d+c]) * float64(w[j*d+c])
					}
					m = math.Max(m, z[j])
				}
				var s float64
				for _, zv := range z {
					s += math.Exp(zv - m)
				}
				want := m + math.Log(s) - z[tg]
				if math.Abs(want-float64(loss[i])) > 1e-5 {
					t.Fatalf("row %d loss %v, want %v", i, loss[i], want)
				}
			}
			dx, dw := make([]float32, n*d), make([]float32, v*d)
			for i := range dx {
				dx[i] = 42 // overwritten
			}
			HeadLoss(be, loss, x, w, targets, scale, dx, dw, scratch, n, d, v, budget)
			for i := 1; i < n; i += 3 {
				for c := 0; c < d; c++ {
					if dx[i*d+c] != 0 {
						t.Fatal("masked rows must get zero gradient")
					}
				}
			}
			checkGrad(t, be.Name()+" head dx", x, dx, f)
			checkGrad(t, be.Name()+" head dw", w, dw, f)
		}
	}
}

// TestAttentionCachedMatchesFull feeds sequences to AttentionCached in pieces and compares
// every row with AttentionForward over the whole sequences.
func TestAttentionCachedMatchesFull(t *testing.T) {
	for _, be := range opBackends(t) {
		rng := seeded.New(11)
		s := compute.AttentionShape{B: 3, T: 37, Heads: 4, KVHeads: 2, HeadDim: 4}
		ld, D, kvw := s.QKVWidth(), s.Heads*s.HeadDim, s.KVHeads*s.HeadDim
		qkv := rng.Normals(s.B*s.T*ld, 1)
		want, att := make([]float32, s.B*s.T*D), make([]float32, s.ProbsSize())
		AttentionForward(be, s, want, att, qkv)

		cs := compute.KVCacheShape{Slots: s.B, MaxLen: 40, Heads: s.Heads, KVHeads: s.KVHeads, HeadDim: s.HeadDim}
		kc, vc := make([]float32, s.B*cs.MaxLen*kvw), make([]float32, s.B*cs.MaxLen*kvw)
		// Sequences advance by different amounts per call; sequence 2 skips some calls.
		steps := [][]int{{5, 1, 0}, {1, 30, 0}, {31, 6, 37}, {0, 0, 0}}
		past := make([]int, s.B)
		for _, counts := range steps {
			maxCount, rows := 0, 0
			var seqs []compute.CachedSeq
			for b, c := range counts {
				seqs = append(seqs, compute.CachedSeq{Slot: b, Row: rows, Count: c, Past: past[b]})
				rows += c
				maxCount = max(maxCount, c)
			}
			pq := make([]float32, rows*ld)
			for _, q := range seqs {
				for j := 0; j < q.Count; j++ {
					src := qkv[(q.Slot*s.T+q.Past+j)*ld : (q.Slot*s.T+q.Past+j+1)*ld]
					copy(pq[(q.Row+j)*ld:], src)
					pos := (q.Slot*cs.MaxLen + q.Past + j) * kvw
					copy(kc[pos:pos+kvw], src[s.Heads*s.HeadDim:])
					copy(vc[pos:pos+kvw], src[(s.Heads+s.KVHeads)*s.HeadDim:])
				}
			}
			out := make([]float32, max(rows, 1)*D)
			scratch := make([]float32, AttentionCachedScratchSize(cs, be.Threads(), max(maxCount, 1)))
			AttentionCached(be, cs, out, pq, kc, vc, seqs, scratch, max(maxCount, 1))
			for _, q := range seqs {
				for j := 0; j < q.Count; j++ {
					for c := 0; c < D; c++ {
						g, w := out[(q.Row+j)*D+c], want[(q.Slot*s.T+q.Past+j)*D+c]
						if math.Abs(float64(g-w)) > 1e-5 {
							t.Fatalf("%s: seq %d pos %d col %d: cached %v, full %v", be.Name(), q.Slot, q.Past+j, c, g, w)
						}
					}
				}
				past[q.Slot] += q.Count
			}
		}
	}
}
