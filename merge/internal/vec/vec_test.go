package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// values returns n float32s that exercise what changes bits: signed zeros, NaN, infinities,
// subnormals, exact ties with a second slice, and ordinary magnitudes across the range.
func values(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		switch r.IntN(12) {
		case 0:
			v[i] = 0
		case 1:
			v[i] = float32(math.Copysign(0, -1))
		case 2:
			v[i] = float32(math.NaN())
		case 3:
			v[i] = float32(math.Inf(1 - 2*r.IntN(2)))
		case 4:
			v[i] = math.Float32frombits(r.Uint32() & 0x807fffff) // subnormal
		default:
			v[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(20)-10)))
		}
	}
	return v
}

// partner returns a copy of x with about half its elements changed.
func partner(r *rand.Rand, x []float32) []float32 {
	y := values(r, len(x))
	for i := range y {
		if r.IntN(2) == 0 {
			y[i] = x[i]
		}
	}
	return y
}

// sameBits64 returns the first index where a and b differ in their bits, except that any two
// NaNs match: which NaN an operation on two NaNs returns depends on the order of its operands,
// which the compiler may swap.
func sameBits64(a, b []float64) int {
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return i
		}
	}
	return -1
}

func sameBits32(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// Every length from 0 to 40 covers an empty body, bodies with and without a tail, and
// offsets that make the slices unaligned.
func TestAssemblyMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 40; n++ {
		for _, off := range []int{0, 1, 3} {
			x := values(r, n+off)[off:]
			y := partner(r, x)
			w := r.NormFloat64()
			a0 := make([]float64, n)
			for i := range a0 {
				a0[i] = float64(values(r, 1)[0])
			}

			got, want := make([]float64, n), make([]float64, n)
			MulTo(got, w, x)
			mulToGo(want, w, x)
			if i := sameBits64(got, want); i >= 0 {
				t.Fatalf("MulTo n=%d off=%d: [%d] = %v, want %v", n, off, i, got[i], want[i])
			}

			copy(got, a0)
			copy(want, a0)
			AddMul(got, w, x)
			addMulGo(want, w, x)
			if i := sameBits64(got, want); i >= 0 {
				t.Fatalf("AddMul n=%d off=%d: [%d] = %v, want %v", n, off, i, got[i], want[i])
			}

			o, ow := make([]float32, n), make([]float32, n)
			Narrow(o, a0, w)
			narrowGo(ow, a0, w)
			for i := range o {
				if !sameBits32(o[i], ow[i]) {
					t.Fatalf("Narrow n=%d off=%d: [%d] = %v, want %v", n, off, i, o[i], ow[i])
				}
			}

			var d [4]float64
			body := n &^ 3
			sumSqDiffGo(&d, x[:body], y[:body])
			for j := body; j < n; j++ {
				e := float64(x[j] - y[j])
				d[0] += e * e
			}
			// A NaN sum is NaN in both, but which NaN comes out of inf - inf or of two NaN
			// operands may differ between the scalar and the vector instructions.
			g, w := SumSqDiff(x, y), (d[0]+d[1])+(d[2]+d[3])
			if math.Float64bits(g) != math.Float64bits(w) && !(math.IsNaN(g) && math.IsNaN(w)) {
				t.Fatalf("SumSqDiff n=%d off=%d: %v, want %v", n, off, g, w)
			}

			s := r.NormFloat64()
			copy(got, a0)
			copy(want, a0)
			AddTask(got, x, y, w, s)
			addTaskGo(want, x, y, w, s)
			if i := sameBits64(got, want); i >= 0 {
				t.Fatalf("AddTask n=%d off=%d: [%d] = %v, want %v", n, off, i, got[i], want[i])
			}

			u := make([]uint32, n)
			for i := range u {
				u[i] = r.Uint32()
			}
			for _, thr := range []uint64{0, 1, 1 << 31, 1<<32 - 1, uint64(r.Uint32())} {
				if n > 0 {
					u[0] = uint32(thr) // the boundary: dropped
				}
				if n > 1 && thr > 0 {
					u[1] = uint32(thr - 1) // kept
				}
				copy(got, a0)
				copy(want, a0)
				AddTaskKept(got, x, y, u, thr, w, s)
				addTaskKeptGo(want, x, y, u, thr, w, s)
				if i := sameBits64(got, want); i >= 0 {
					t.Fatalf("AddTaskKept n=%d off=%d thr=%d: [%d] = %v, want %v", n, off, thr, i, got[i], want[i])
				}
			}

			for _, div := range []float64{1, 3, r.NormFloat64()} {
				AddBase(o, x, a0, div, s)
				addBaseGo(ow, x, a0, div, s)
				for i := range o {
					if !sameBits32(o[i], ow[i]) {
						t.Fatalf("AddBase n=%d off=%d div=%v: [%d] = %v, want %v", n, off, div, i, o[i], ow[i])
					}
				}
			}

			z := partner(r, x)
			var dt [4]float64
			dotTaskGo(&dt, x[:body], y[:body], z[:body])
			for j := body; j < n; j++ {
				dt[0] += float64(x[j]-z[j]) * float64(y[j]-z[j])
			}
			if g, w := DotTask(x, y, z), (dt[0]+dt[1])+(dt[2]+dt[3]); math.Float64bits(g) != math.Float64bits(w) && !(math.IsNaN(g) && math.IsNaN(w)) {
				t.Fatalf("DotTask n=%d off=%d: %v, want %v", n, off, g, w)
			}

			for _, div := range []float64{1, 3} {
				tt := r.Float64()
				Blend(o, x, a0, div, tt)
				blendGo(ow, x, a0, div, tt)
				for i := range o {
					if !sameBits32(o[i], ow[i]) {
						t.Fatalf("Blend n=%d off=%d: [%d] = %v, want %v", n, off, i, o[i], ow[i])
					}
				}
			}

			copy(got, a0)
			copy(want, a0)
			mean := make([]float64, n)
			for i := range mean {
				mean[i] = r.NormFloat64()
			}
			AddSqDev(got, x, y, mean)
			addSqDevGo(want, x, y, mean)
			if i := sameBits64(got, want); i >= 0 {
				t.Fatalf("AddSqDev n=%d off=%d: [%d] = %v, want %v", n, off, i, got[i], want[i])
			}
			copy(got, a0)
			Quotients(got, 3)
			for i := range want {
				want[i] = a0[i] / 3
			}
			if i := sameBits64(got, want); i >= 0 {
				t.Fatalf("Quotients n=%d off=%d: [%d] = %v, want %v", n, off, i, got[i], want[i])
			}

			wd := make([]float64, n)
			for i := range wd {
				wd[i] = float64(x[i]) * w
			}
			m1, m2 := append([]float64(nil), a0...), append([]float64(nil), a0...)
			d1, d2 := append([]float64(nil), mean...), append([]float64(nil), mean...)
			Elect(m1, d1, wd, y, w)
			electGo(m2, d2, wd, y, w)
			if i := sameBits64(m1, m2); i >= 0 {
				t.Fatalf("Elect mixed n=%d off=%d: [%d] = %v, want %v", n, off, i, m1[i], m2[i])
			}
			if i := sameBits64(d1, d2); i >= 0 {
				t.Fatalf("Elect div n=%d off=%d: [%d] = %v, want %v", n, off, i, d1[i], d2[i])
			}

			for _, cut := range []uint32{0, 1 << 30, 0x7f800000, math.Float32bits(1e-3)} {
				if n > 2 {
					y[2] = x[2] - math.Float32frombits(cut) // one tie (or close to one)
				}
				o1, o2 := append([]float32(nil), x...), append([]float32(nil), x...)
				if t1, t2 := DropAbove(o1, cut), dropAboveGo(o2, cut); t1 != t2 {
					t.Fatalf("DropAbove n=%d off=%d cut=%#x: tie %v, want %v", n, off, cut, t1, t2)
				}
				for i := range o1 {
					if !sameBits32(o1[i], o2[i]) {
						t.Fatalf("DropAbove n=%d off=%d cut=%#x: [%d] = %v, want %v", n, off, cut, i, o1[i], o2[i])
					}
				}
				t1, t2 := PruneAbove(o1, x, y, cut), pruneAboveGo(o2, x, y, cut)
				if t1 != t2 {
					t.Fatalf("PruneAbove n=%d off=%d cut=%#x: tie %v, want %v", n, off, cut, t1, t2)
				}
				for i := range o1 {
					if !sameBits32(o1[i], o2[i]) {
						t.Fatalf("PruneAbove n=%d off=%d cut=%#x: [%d] = %v, want %v", n, off, cut, i, o1[i], o2[i])
					}
				}
			}

			k1 := make([]uint32, n)
			MagKeys(k1, x, y)
			for i := range k1 {
				if want := math.Float32bits(x[i]-y[i]) &^ (1 << 31); k1[i] != want {
					t.Fatalf("MagKeys n=%d off=%d: [%d] = %#x, want %#x", n, off, i, k1[i], want)
				}
			}

			for _, eps := range []float32{0, 1e-5, 1} {
				st := [2][3][]float64{}
				for v := range st {
					for q := range st[v] {
						st[v][q] = append([]float64(nil), a0...)
					}
					for i := range st[v][1] {
						st[v][1][i] = float64(i % 3) // counts
					}
				}
				lam := r.NormFloat64()
				RAMAdd(st[0][0], st[0][1], st[0][2], x, y, eps, lam)
				ramAddGo(st[1][0], st[1][1], st[1][2], x, y, eps, lam)
				for q := range 3 {
					if i := sameBits64(st[0][q], st[1][q]); i >= 0 {
						t.Fatalf("RAMAdd n=%d off=%d eps=%v state %d: [%d] = %v, want %v", n, off, eps, q, i, st[0][q][i], st[1][q][i])
					}
				}
				RAMFinish(o, x, st[0][0], st[0][1], st[0][2])
				ramFinishGo(ow, x, st[1][0], st[1][1], st[1][2])
				for i := range o {
					if !sameBits32(o[i], ow[i]) {
						t.Fatalf("RAMFinish n=%d off=%d: [%d] = %v, want %v", n, off, i, o[i], ow[i])
					}
				}
			}

			{
				s32 := float32(r.NormFloat64())
				w1, w2 := make([]float64, n), make([]float64, n)
				d1, d2 := append([]float32(nil), x...), append([]float32(nil), x...)
				Weigh(w1, d1, w, s, float32(w), s32)
				weighGo(w2, d2, w, s, float32(w), s32)
				if i := sameBits64(w1, w2); i >= 0 {
					t.Fatalf("Weigh n=%d off=%d: wd[%d] = %v, want %v", n, off, i, w1[i], w2[i])
				}
				for i := range d1 {
					if !sameBits32(d1[i], d2[i]) {
						t.Fatalf("Weigh n=%d off=%d: d[%d] = %v, want %v", n, off, i, d1[i], d2[i])
					}
				}
				a1, a2 := append([]float32(nil), y...), append([]float32(nil), y...)
				AddF32(a1, x)
				for i := range a2 {
					a2[i] += x[i]
				}
				for i := range a1 {
					if !sameBits32(a1[i], a2[i]) {
						t.Fatalf("AddF32 n=%d off=%d: [%d] = %v, want %v", n, off, i, a1[i], a2[i])
					}
				}
				div := make([]float64, n)
				for i := range div {
					div[i] = float64(i%3) * r.Float64() // zeros among them
				}
				for _, norm := range []bool{false, true} {
					ElectFinish(o, x, a0, div, w, norm)
					electFinishGo(ow, x, a0, div, w, norm)
					for i := range o {
						if !sameBits32(o[i], ow[i]) {
							t.Fatalf("ElectFinish n=%d off=%d normalize=%v: [%d] = %v, want %v", n, off, norm, i, o[i], ow[i])
						}
					}
				}
			}

			{
				keys := make([]uint32, n)
				MagKeys(keys, x, y)
				for i := range keys {
					if i%5 == 0 {
						keys[i] = 0
					}
				}
				hbs := []uint32{0, 0x7fff}
				if n > 0 {
					hbs = append(hbs, keys[n-1]>>16)
				}
				for _, hb := range hbs {
					var l1, l2 [1 << 16]int64
					z1, z2 := BucketCounts(&l1, keys, hb), bucketCountsGo(&l2, keys, hb)
					if z1 != z2 || l1 != l2 {
						t.Fatalf("BucketCounts n=%d off=%d hb=%#x: zeros %d (want %d) or counts differ", n, off, hb, z1, z2)
					}
					var want int64
					for _, k := range keys {
						want += int64(b2u(k != 0 && k>>16 == hb))
					}
					var got int64
					for _, c := range l1 {
						got += c
					}
					if got != want {
						t.Fatalf("BucketCounts n=%d hb=%#x: counted %d keys, want %d", n, hb, got, want)
					}
				}
			}

			{
				sum := make([]float64, n)
				for i := range sum {
					sum[i] = float64(values(r, 1)[0])
				}
				st := [2][2][]float64{}
				for v := range st {
					st[v][0] = append([]float64(nil), a0...)
					st[v][1] = make([]float64, n)
					for i := range st[v][1] {
						st[v][1][i] = float64(i%4) * 0.5
						if i%7 == 3 {
							st[v][1][i] = math.NaN()
						}
					}
				}
				ElectTask(st[0][0], st[0][1], x, y, sum, w)
				electTaskGo(st[1][0], st[1][1], x, y, sum, w)
				for q := range 2 {
					if i := sameBits64(st[0][q], st[1][q]); i >= 0 {
						t.Fatalf("ElectTask n=%d off=%d state %d: [%d] = %v, want %v", n, off, q, i, st[0][q][i], st[1][q][i])
					}
				}
				kept := make([]uint32, n)
				for i := range kept {
					kept[i] = -uint32(r.IntN(2))
				}
				SCEFinish(o, x, st[0][0], st[0][1], kept)
				sceFinishGo(ow, x, st[1][0], st[1][1], kept)
				for i := range o {
					if !sameBits32(o[i], ow[i]) {
						t.Fatalf("SCEFinish n=%d off=%d: [%d] = %v, want %v", n, off, i, o[i], ow[i])
					}
				}
			}

			{
				u := make([]uint32, n)
				keep := make([]uint32, n)
				for i := range u {
					u[i] = r.Uint32()
					keep[i] = -uint32(r.IntN(2))
				}
				for _, thr := range []uint64{0, 1, 1 << 31, 1<<32 - 1, 1 << 32, uint64(r.Uint32())} {
					s1, s2 := [2]float64{0.5, -0.25}, [2]float64{0.5, -0.25}
					L1Sums(&s1, x, y, u, thr)
					l1SumsGo(&s2, x, y, u, thr)
					if i := sameBits64(s1[:], s2[:]); i >= 0 {
						t.Fatalf("L1Sums n=%d off=%d thr=%d: [%d] = %v, want %v", n, off, thr, i, s1[i], s2[i])
					}
					d1, d2 := make([]float32, n), make([]float32, n)
					PruneRandom(d1, x, y, u, thr)
					for i := range d2 {
						d2[i] = x[i] - y[i]
						if uint64(u[i]) >= thr {
							d2[i] = 0
						}
					}
					for i := range d1 {
						if !sameBits32(d1[i], d2[i]) {
							t.Fatalf("PruneRandom n=%d off=%d thr=%d: [%d] = %v, want %v", n, off, thr, i, d1[i], d2[i])
						}
					}
				}
				s1, s2 := 0.75, 0.75
				SumSqKept(&s1, x, y, keep)
				sumSqKeptGo(&s2, x, y, keep)
				if math.Float64bits(s1) != math.Float64bits(s2) && !(math.IsNaN(s1) && math.IsNaN(s2)) {
					t.Fatalf("SumSqKept n=%d off=%d: %v, want %v", n, off, s1, s2)
				}
				d1 := make([]float32, n)
				MaskDelta(d1, x, y, keep)
				for i := range d1 {
					want := x[i] - y[i]
					if keep[i] == 0 {
						want = 0
					}
					if !sameBits32(d1[i], want) {
						t.Fatalf("MaskDelta n=%d off=%d: [%d] = %v, want %v", n, off, i, d1[i], want)
					}
				}
			}

			if g, w := CountEqual(x, y), countEqualGo(x, y); g != w {
				t.Fatalf("CountEqual n=%d off=%d: %d, want %d", n, off, g, w)
			}
		}
	}
}

// MixFill gives every length's draws as the scalar SplitMix64 loop does (the assembly builds
// its 64-bit multiplies from 32-bit ones).
func TestMixFill(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n <= 70; n++ {
		c := r.Uint64()
		got := make([]uint32, n)
		MixFill(got, c)
		for j := range got {
			x := Mix64(c + uint64(j/2+1)*golden)
			want := uint32(x)
			if j%2 == 0 {
				want = uint32(x >> 32)
			}
			if got[j] != want {
				t.Fatalf("n=%d: draw %d = %#x, want %#x", n, j, got[j], want)
			}
		}
	}
	// SplitMix64's published first output for seed 0 (state advanced once by golden).
	if got := Mix64(golden); got != 0xe220a8397b1dcdaf {
		t.Errorf("Mix64(golden) = %#x, want 0xe220a8397b1dcdaf", got)
	}
}

// The finite cases, checked against plain arithmetic rather than against the portable loops.
func TestDotTaskAndBlendValues(t *testing.T) {
	base := []float32{1, 1, 1, 1, 1}
	x := []float32{2, 3, 1, 0, 5}
	y := []float32{3, 1, 4, 2, 2}
	// (1)(2) + (2)(0) + 0 + (-1)(1) + (4)(1) = 5
	if got := DotTask(x, y, base); got != 5 {
		t.Errorf("DotTask = %v, want 5", got)
	}
	o := make([]float32, 5)
	Blend(o, base, []float64{4, 8, 0, 2, 6}, 2, 0.25) // 0.25*acc/2 + 0.75
	for i, want := range []float32{1.25, 1.75, 0.75, 1, 1.5} {
		if o[i] != want {
			t.Fatalf("Blend: %v, want element %d = %v", o, i, want)
		}
	}
}

func TestElectAndPruneValues(t *testing.T) {
	mixed, div := make([]float64, 5), make([]float64, 5)
	wd := []float64{2, -3, 0, -1, 4}
	s32 := []float32{1, 1, -1, -1, 0} // 0 counts as +
	Elect(mixed, div, wd, s32, 0.5)
	if want := []float64{2, 0, 0, -1, 4}; sameBits64(mixed, want) >= 0 {
		t.Errorf("Elect mixed = %v, want %v", mixed, want)
	}
	if want := []float64{0.5, 0, 0, 0.5, 0.5}; sameBits64(div, want) >= 0 {
		t.Errorf("Elect div = %v, want %v", div, want)
	}
	d := make([]float32, 5)
	x := []float32{3, -1, 0.5, 2, -4}
	base := []float32{1, 1, 1, 1, 1} // deltas 2 -2 -0.5 1 -5
	if tie := PruneAbove(d, x, base, math.Float32bits(1)); !tie {
		t.Error("PruneAbove missed the delta equal to the cut")
	}
	for i, want := range []float32{2, -2, 0, 0, -5} {
		if d[i] != want {
			t.Fatalf("PruneAbove = %v, want element %d = %v", d, i, want)
		}
	}
	if tie := DropAbove(d, math.Float32bits(2)); !tie {
		t.Error("DropAbove missed the magnitude equal to the cut")
	}
	for i, want := range []float32{2, -2, 0, 0, 0} {
		if d[i] != want {
			t.Fatalf("DropAbove = %v, want element %d = %v", d, i, want)
		}
	}
}

func TestTaskValues(t *testing.T) {
	acc := []float64{1, 1, 1, 1, 1}
	x := []float32{3, 5, 7, 9, 11}
	base := []float32{1, 1, 1, 1, 1}
	AddTask(acc, x, base, 2, 0.5) // + (x - 1)
	if want := []float64{3, 5, 7, 9, 11}; sameBits64(acc, want) >= 0 {
		t.Fatalf("AddTask: %v, want %v", acc, want)
	}
	u := []uint32{0, 1 << 31, 1<<31 - 1, 1<<32 - 1, 5}
	AddTaskKept(acc, x, base, u, 1<<31, 1, 1) // keeps elements 0, 2, 4
	if want := []float64{5, 5, 13, 9, 21}; sameBits64(acc, want) >= 0 {
		t.Fatalf("AddTaskKept: %v, want %v", acc, want)
	}
	o := make([]float32, 5)
	AddBase(o, base, acc, 2, 0.5) // 1 + acc/4
	for i, want := range []float32{2.25, 2.25, 4.25, 3.25, 6.25} {
		if o[i] != want {
			t.Fatalf("AddBase: %v, want element %d = %v", o, i, want)
		}
	}
}

func TestSumSqDiffAndCountEqualValues(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	y := []float32{1, 0, 3, 1, 5, 6, 0, 8, 7}
	// differences 0 2 0 3 0 0 7 0 2: squares 4 + 9 + 49 + 4
	if got := SumSqDiff(x, y); got != 66 {
		t.Errorf("SumSqDiff = %v, want 66", got)
	}
	if got := CountEqual(x, y); got != 5 {
		t.Errorf("CountEqual = %d, want 5", got)
	}
	nan := float32(math.NaN())
	z := []float32{nan, 0, 0, 0, 0, 0, 0, 0}
	if got := CountEqual(z, []float32{nan, float32(math.Copysign(0, -1)), 0, 0, 0, 0, 0, 1}); got != 6 {
		t.Errorf("CountEqual with NaN and -0 = %d, want 6", got)
	}
}

func BenchmarkSumSqDiff(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x := values(r, 1<<16)
	y := partner(r, x)
	b.SetBytes(8 << 16)
	for b.Loop() {
		SumSqDiff(x, y)
	}
}

func BenchmarkAddMul(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x := values(r, 1024)
	a := make([]float64, 1024)
	b.SetBytes(4 * 1024)
	for b.Loop() {
		AddMul(a, 0.5, x)
	}
}
