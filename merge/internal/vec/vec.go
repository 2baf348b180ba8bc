package vec

import "math"

// Each function runs the assembly over the longest prefix it handles and the portable loop
// (the ...Go function, which also defines the result) over the rest, or over everything where
// there is no assembly.

// MulTo sets a[j] = w * float64(x[j]) for j < len(a); x must be at least as long as a.
func MulTo(a []float64, w float64, x []float32) {
	x = x[:len(a)]
	body := 0
	if useAsm {
		if body = len(a) &^ 3; body > 0 {
			mulTo(&a[0], &x[0], w, body)
		}
	}
	mulToGo(a[body:], w, x[body:])
}

func mulToGo(a []float64, w float64, x []float32) {
	for j := range a {
		a[j] = w * float64(x[j])
	}
}

// AddMul sets a[j] += w * float64(x[j]) for j < len(a); x must be at least as long as a.
func AddMul(a []float64, w float64, x []float32) {
	x = x[:len(a)]
	body := 0
	if useAsm {
		if body = len(a) &^ 3; body > 0 {
			addMul(&a[0], &x[0], w, body)
		}
	}
	addMulGo(a[body:], w, x[body:])
}

func addMulGo(a []float64, w float64, x []float32) {
	for j := range a {
		a[j] += w * float64(x[j])
	}
}

// Narrow sets o[j] = float32(a[j] * s) for j < len(o) (rounded to nearest, ties to even); a
// must be at least as long as o.
func Narrow(o []float32, a []float64, s float64) {
	a = a[:len(o)]
	body := 0
	if useAsm {
		if body = len(o) &^ 3; body > 0 {
			narrow(&o[0], &a[0], s, body)
		}
	}
	narrowGo(o[body:], a[body:], s)
}

func narrowGo(o []float32, a []float64, s float64) {
	for j := range o {
		o[j] = float32(a[j] * s)
	}
}

// SumSqDiff returns the sum over j < len(x) of e*e, e = float64(x[j] - y[j]) (the difference
// taken in float32), in a fixed order: element j goes to partial sum j mod 4 (the tail beyond
// the last multiple of 4 to partial sum 0), and the four are combined as (s0+s1)+(s2+s3). y
// must be at least as long as x.
func SumSqDiff(x, y []float32) float64 {
	y = y[:len(x)]
	var d [4]float64
	body := len(x) &^ 3
	if useAsm && body > 0 {
		sumSqDiff(&d, &x[0], &y[0], body)
	} else {
		sumSqDiffGo(&d, x[:body], y[:body])
	}
	for j := body; j < len(x); j++ {
		e := float64(x[j] - y[j])
		d[0] += e * e
	}
	return (d[0] + d[1]) + (d[2] + d[3])
}

// sumSqDiffGo adds to the four partial sums d over x and y, of a length divisible by 4.
func sumSqDiffGo(d *[4]float64, x, y []float32) {
	y = y[:len(x)]
	for j := 0; j+4 <= len(x); j += 4 {
		e0 := float64(x[j] - y[j])
		e1 := float64(x[j+1] - y[j+1])
		e2 := float64(x[j+2] - y[j+2])
		e3 := float64(x[j+3] - y[j+3])
		d[0] += e0 * e0
		d[1] += e1 * e1
		d[2] += e2 * e2
		d[3] += e3 * e3
	}
}

// CountEqual returns how many j < len(x) have x[j] == y[j] as Go compares floats (NaN equals
// nothing, +0 equals -0). y must be at least as long as x.
func CountEqual(x, y []float32) int64 {
	y = y[:len(x)]
	var n int64
	body := 0
	if useAsm {
		if body = len(x) &^ 7; body > 0 {
			n = countEqual(&x[0], &y[0], body)
		}
	}
	return n + countEqualGo(x[body:], y[body:])
}

func countEqualGo(x, y []float32) int64 {
	y = y[:len(x)]
	var n int64
	for j, v := range x {
		if v == y[j] {
			n++
		}
	}
	return n
}

// AddTask sets acc[j] += (w * float64(x[j]-base[j])) * s for j < len(acc): one model's
// weighted task vector (the difference taken in float32) added to a float64 sum. x and base
// must be at least as long as acc.
func AddTask(acc []float64, x, base []float32, w, s float64) {
	x, base = x[:len(acc)], base[:len(acc)]
	body := 0
	if useAsm {
		if body = len(acc) &^ 3; body > 0 {
			addTask(&acc[0], &x[0], &base[0], w, s, body)
		}
	}
	addTaskGo(acc[body:], x[body:], base[body:], w, s)
}

func addTaskGo(acc []float64, x, base []float32, w, s float64) {
	for j, bv := range base {
		acc[j] += w * float64(x[j]-bv) * s
	}
}

// AddTaskKept is AddTask with the task vector's element j dropped (its float32 bits cleared)
// unless u[j] < thr, where thr is at most 2^32 (2^32 keeps everything).
func AddTaskKept(acc []float64, x, base []float32, u []uint32, thr uint64, w, s float64) {
	if thr >= 1<<32 {
		AddTask(acc, x, base, w, s)
		return
	}
	x, base, u = x[:len(acc)], base[:len(acc)], u[:len(acc)]
	body := 0
	if useAsm {
		if body = len(acc) &^ 3; body > 0 {
			addTaskKept(&acc[0], &x[0], &base[0], &u[0], uint32(thr), w, s, body)
		}
	}
	addTaskKeptGo(acc[body:], x[body:], base[body:], u[body:], thr, w, s)
}

func addTaskKeptGo(acc []float64, x, base []float32, u []uint32, thr uint64, w, s float64) {
	for j, bv := range base {
		d := x[j] - bv
		if uint64(u[j]) >= thr {
			d = math.Float32frombits(0)
		}
		acc[j] += w * float64(d) * s
	}
}

// AddBase sets o[j] = float32(float64(base[j]) + lambda*(acc[j]/div)), the division left out
// when div is 1 (where it changes nothing). base and acc must be at least as long as o.
func AddBase(o, base []float32, acc []float64, div, lambda float64) {
	base, acc = base[:len(o)], acc[:len(o)]
	body := 0
	if useAsm {
		if body = len(o) &^ 3; body > 0 {
			if div == 1 {
				addBase(&o[0], &base[0], &acc[0], lambda, body)
			} else {
				addBaseDiv(&o[0], &base[0], &acc[0], div, lambda, body)
			}
		}
	}
	addBaseGo(o[body:], base[body:], acc[body:], div, lambda)
}

func addBaseGo(o, base []float32, acc []float64, div, lambda float64) {
	for j, bv := range base {
		m := acc[j]
		if div != 1 {
			m /= div
		}
		o[j] = float32(float64(bv) + lambda*m)
	}
}

// DotTask returns the sum over j < len(x) of float64(x[j]-base[j]) * float64(y[j]-base[j])
// (the differences taken in float32), grouped as SumSqDiff groups its terms. y and base must
// be at least as long as x.
func DotTask(x, y, base []float32) float64 {
	y, base = y[:len(x)], base[:len(x)]
	var d [4]float64
	body := len(x) &^ 3
	if useAsm && body > 0 {
		dotTask(&d, &x[0], &y[0], &base[0], body)
	} else {
		dotTaskGo(&d, x[:body], y[:body], base[:body])
	}
	for j := body; j < len(x); j++ {
		d[0] += float64(x[j]-base[j]) * float64(y[j]-base[j])
	}
	return (d[0] + d[1]) + (d[2] + d[3])
}

func dotTaskGo(d *[4]float64, x, y, base []float32) {
	for j := 0; j+4 <= len(x); j += 4 {
		for l := range 4 {
			d[l] += float64(x[j+l]-base[j+l]) * float64(y[j+l]-base[j+l])
		}
	}
}

// Blend sets o[j] = float32(t*(acc[j]/div) + (1-t)*float64(base[j])). base and acc must be at
// least as long as o.
func Blend(o, base []float32, acc []float64, div, t float64) {
	base, acc = base[:len(o)], acc[:len(o)]
	body := 0
	if useAsm {
		if body = len(o) &^ 3; body > 0 {
			blend(&o[0], &base[0], &acc[0], div, t, body)
		}
	}
	blendGo(o[body:], base[body:], acc[body:], div, t)
}

func blendGo(o, base []float32, acc []float64, div, t float64) {
	for j, bv := range base {
		o[j] = float32(t*(acc[j]/div) + (1-t)*float64(bv))
	}
}

// AddSqDev sets v[j] += e*e, e = float64(x[j]-base[j]) - mean[j] (the difference taken in
// float32): one model's term of a variance across models. x, base and mean must be at least
// as long as v.
func AddSqDev(v []float64, x, base []float32, mean []float64) {
	x, base, mean = x[:len(v)], base[:len(v)], mean[:len(v)]
	body := 0
	if useAsm {
		if body = len(v) &^ 3; body > 0 {
			addSqDev(&v[0], &x[0], &base[0], &mean[0], body)
		}
	}
	addSqDevGo(v[body:], x[body:], base[body:], mean[body:])
}

func addSqDevGo(v []float64, x, base []float32, mean []float64) {
	for j, bv := range base {
		e := float64(x[j]-bv) - mean[j]
		v[j] += e * e
	}
}

// Quotients sets o[j] = a[j] / div in place (a true division, not a product with 1/div).
func Quotients(a []float64, div float64) {
	body := 0
	if useAsm {
		if body = len(a) &^ 3; body > 0 {
			quotients(&a[0], div, body)
		}
	}
	for j := body; j < len(a); j++ {
		a[j] /= div
	}
}

// Elect adds one model's terms to TIES's sign election over a run of elements: where wd[j]
// has the elected sign (that of s32[j], where 0 counts as +; a zero or NaN wd never agrees),
// mixed[j] += wd[j] and div[j] += w; elsewhere both get +0 added. s32, mixed and div must be at
// least as long as wd.
func Elect(mixed, div []float64, wd []float64, s32 []float32, w float64) {
	mixed, div, s32 = mixed[:len(wd)], div[:len(wd)], s32[:len(wd)]
	body := 0
	if useAsm {
		if body = len(wd) &^ 3; body > 0 {
			elect(&mixed[0], &div[0], &wd[0], &s32[0], w, body)
		}
	}
	electGo(mixed[body:], div[body:], wd[body:], s32[body:], w)
}

func electGo(mixed, div []float64, wd []float64, s32 []float32, w float64) {
	wBits := math.Float64bits(w)
	for j, d := range wd {
		positive := b2u(s32[j] >= 0)
		mask := -((b2u(d > 0) & positive) | (b2u(d < 0) &^ positive))
		mixed[j] += math.Float64frombits(math.Float64bits(d) & mask)
		div[j] += math.Float64frombits(wBits & mask)
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// PruneAbove sets d[j] = x[j] - base[j] where the magnitude's float32 bits (sign cleared)
// exceed cut, and +0 elsewhere, and reports whether any magnitude's bits equal cut (those
// elements are left at +0 for the caller to decide). cut must be below 2^31.
func PruneAbove(d, x, base []float32, cut uint32) (tie bool) {
	x, base = x[:len(d)], base[:len(d)]
	body := 0
	if useAsm {
		if body = len(d) &^ 3; body > 0 {
			tie = pruneAbove(&d[0], &x[0], &base[0], cut, body)
		}
	}
	return pruneAboveGo(d[body:], x[body:], base[body:], cut) || tie
}

func pruneAboveGo(d, x, base []float32, cut uint32) (tie bool) {
	for j, bv := range base {
		v := x[j] - bv
		k := math.Float32bits(v) &^ (1 << 31)
		tie = tie || k == cut
		d[j] = math.Float32frombits(math.Float32bits(v) & -uint32(b2u(k > cut)))
	}
	return tie
}

// DropAbove sets d[j] to +0 where the magnitude's float32 bits (sign cleared) exceed cut, and
// reports whether any equal cut. cut must be below 2^31.
func DropAbove(d []float32, cut uint32) (tie bool) {
	body := 0
	if useAsm {
		if body = len(d) &^ 3; body > 0 {
			tie = dropAbove(&d[0], cut, body)
		}
	}
	return dropAboveGo(d[body:], cut) || tie
}

func dropAboveGo(d []float32, cut uint32) (tie bool) {
	for j, v := range d {
		k := math.Float32bits(v) &^ (1 << 31)
		tie = tie || k == cut
		d[j] = math.Float32frombits(math.Float32bits(v) &^ -uint32(b2u(k > cut)))
	}
	return tie
}

// MagKeys sets keys[j] to the float32 bits of |x[j] - base[j]| (the difference's bits with the
// sign cleared), which order like the magnitudes. x and base must be at least as long as keys.
func MagKeys(keys []uint32, x, base []float32) {
	x, base = x[:len(keys)], base[:len(keys)]
	body := 0
	if useAsm {
		if body = len(keys) &^ 3; body > 0 {
			magKeys(&keys[0], &x[0], &base[0], body)
		}
	}
	for j := body; j < len(keys); j++ {
		keys[j] = math.Float32bits(x[j]-base[j]) &^ (1 << 31)
	}
}

// RAMAdd adds one model to RAM's per-element state over a run: where |x[j] - base[j]| > eps
// (float32; false for NaN) the difference is added to sum[j], 1 to cnt[j], and lam[j] becomes
// lambda; elsewhere sum and cnt get +0 added and lam stays. x, base, cnt and lam must be at
// least as long as sum.
func RAMAdd(sum, cnt, lam []float64, x, base []float32, eps float32, lambda float64) {
	x, base, cnt, lam = x[:len(sum)], base[:len(sum)], cnt[:len(sum)], lam[:len(sum)]
	body := 0
	if useAsm {
		if body = len(sum) &^ 3; body > 0 {
			ramAdd(&sum[0], &cnt[0], &lam[0], &x[0], &base[0], eps, lambda, body)
		}
	}
	ramAddGo(sum[body:], cnt[body:], lam[body:], x[body:], base[body:], eps, lambda)
}

func ramAddGo(sum, cnt, lam []float64, x, base []float32, eps float32, lambda float64) {
	for j, bv := range base {
		d := x[j] - bv
		on := -b2u(math.Float32frombits(math.Float32bits(d)&^(1<<31)) > eps)
		sum[j] += math.Float64frombits(math.Float64bits(float64(d)) & on)
		cnt[j] += math.Float64frombits(math.Float64bits(1) & on)
		lam[j] = math.Float64frombits(math.Float64bits(lambda)&on | math.Float64bits(lam[j])&^on)
	}
}

// RAMFinish sets o[j] = float32(float64(base[j]) + r) with r = sum[j]*lam[j] where cnt[j] is 1
// (one model alone) and sum[j] / max(cnt[j], 1) elsewhere. base, sum, cnt and lam must be at
// least as long as o.
func RAMFinish(o, base []float32, sum, cnt, lam []float64) {
	base, sum, cnt, lam = base[:len(o)], sum[:len(o)], cnt[:len(o)], lam[:len(o)]
	body := 0
	if useAsm {
		if body = len(o) &^ 3; body > 0 {
			ramFinish(&o[0], &base[0], &sum[0], &cnt[0], &lam[0], body)
		}
	}
	ramFinishGo(o[body:], base[body:], sum[body:], cnt[body:], lam[body:])
}

func ramFinishGo(o, base []float32, sum, cnt, lam []float64) {
	for j, bv := range base {
		r := sum[j] / max(cnt[j], 1)
		if cnt[j] == 1 {
			r = sum[j] * lam[j]
		}
		o[j] = float32(float64(bv) + r)
	}
}

// Weigh turns one model's pruned task-vector terms d into TIES's two weighted forms:
// wd[j] = w*float64(d[j])*s in float64 (the sums), and in place d[j] = (d[j]*s32)*w32 in
// float32, as mergekit's float32 torch code rounds them (the sign election). wd must be at
// least as long as d.
func Weigh(wd []float64, d []float32, w, s float64, w32, s32 float32) {
	wd = wd[:len(d)]
	body := 0
	if useAsm {
		if body = len(d) &^ 3; body > 0 {
			weigh(&wd[0], &d[0], w, s, w32, s32, body)
		}
	}
	weighGo(wd[body:], d[body:], w, s, w32, s32)
}

func weighGo(wd []float64, d []float32, w, s float64, w32, s32 float32) {
	for j, v := range d {
		wd[j] = w * float64(v) * s
		d[j] = float32(v*s32) * w32
	}
}

// AddF32 adds v to s element by element, in float32. v must be at least as long as s.
func AddF32(s, v []float32) {
	v = v[:len(s)]
	body := 0
	if useAsm {
		if body = len(s) &^ 3; body > 0 {
			addF32(&s[0], &v[0], body)
		}
	}
	for j := body; j < len(s); j++ {
		s[j] += v[j]
	}
}

// ElectFinish writes TIES's result over a run: out[j] = float32(float64(base[j]) +
// lambda*m) with m = mixed[j], divided by div[j] (0 counting as 1) when normalize is set.
// base, mixed and div must be at least as long as out.
func ElectFinish(out, base []float32, mixed, div []float64, lambda float64, normalize bool) {
	base, mixed, div = base[:len(out)], mixed[:len(out)], div[:len(out)]
	body := 0
	if useAsm {
		if body = len(out) &^ 3; body > 0 {
			electFinish(&out[0], &base[0], &mixed[0], &div[0], lambda, normalize, body)
		}
	}
	electFinishGo(out[body:], base[body:], mixed[body:], div[body:], lambda, normalize)
}

func electFinishGo(out, base []float32, mixed, div []float64, lambda float64, normalize bool) {
	for j, bv := range base {
		mx := mixed[j]
		if normalize {
			d := div[j]
			d += float64(b2u(d == 0)) // 0 becomes 1, branch-free
			mx /= d
		}
		out[j] = float32(float64(bv) + float64(lambda*mx)) // the conversion forbids a fused multiply-add
	}
}

// BucketCounts is the second pass of a two-level count of magnitude keys: for every non-zero
// key whose top 16 bits are hb it adds 1 to lo[key&0xffff]. It returns the number of zero
// keys, which it leaves out (the caller adds them to lo[0] when hb is 0): unchanged elements
// are common, and counting them one increment of lo[0] after another would make every
// increment wait on the one before.
func BucketCounts(lo *[1 << 16]int64, keys []uint32, hb uint32) (zeros int64) {
	body := 0
	if useAsm {
		if body = len(keys) &^ 7; body > 0 {
			zeros = bucketCounts(&lo[0], &keys[0], hb, body)
		}
	}
	return zeros + bucketCountsGo(lo, keys[body:], hb)
}

func bucketCountsGo(lo *[1 << 16]int64, keys []uint32, hb uint32) (zeros int64) {
	for _, k := range keys {
		zeros += int64(b2u(k == 0))
		if k != 0 && k>>16 == hb {
			lo[uint16(k)]++
		}
	}
	return zeros
}

// ElectTask adds one model's terms to SCE's sign election over a run: with d =
// float64(x[j] - base[j]), where d has the sign of sum[j] (0 counts as +; a zero or NaN d
// never agrees), mixed[j] += d*w and div[j] += w; elsewhere both get +0 added. x, base, sum
// and div must be at least as long as mixed.
func ElectTask(mixed, div []float64, x, base []float32, sum []float64, w float64) {
	div, x, base, sum = div[:len(mixed)], x[:len(mixed)], base[:len(mixed)], sum[:len(mixed)]
	body := 0
	if useAsm {
		if body = len(mixed) &^ 3; body > 0 {
			electTask(&mixed[0], &div[0], &x[0], &base[0], &sum[0], w, body)
		}
	}
	electTaskGo(mixed[body:], div[body:], x[body:], base[body:], sum[body:], w)
}

func electTaskGo(mixed, div []float64, x, base []float32, sum []float64, w float64) {
	wBits := math.Float64bits(w)
	for j, bv := range base {
		d := float64(x[j] - bv)
		positive := b2u(sum[j] >= 0)
		mask := -((b2u(d > 0) & positive) | (b2u(d < 0) &^ positive))
		mixed[j] += math.Float64frombits(math.Float64bits(d*w) & mask)
		div[j] += math.Float64frombits(wBits & mask)
	}
}

// SCEFinish writes SCE's result over a run: where kept[j] is all ones, out[j] =
// float32(float64(base[j]) + mixed[j]/max(div[j], 1e-6)) (math.Max: a NaN div gives NaN);
// where it is zero, base[j]. base, mixed, div and kept must be at least as long as out.
func SCEFinish(out, base []float32, mixed, div []float64, kept []uint32) {
	base, mixed, div, kept = base[:len(out)], mixed[:len(out)], div[:len(out)], kept[:len(out)]
	body := 0
	if useAsm {
		if body = len(out) &^ 3; body > 0 {
			sceFinish(&out[0], &base[0], &mixed[0], &div[0], &kept[0], body)
		}
	}
	sceFinishGo(out[body:], base[body:], mixed[body:], div[body:], kept[body:])
}

func sceFinishGo(out, base []float32, mixed, div []float64, kept []uint32) {
	for j, bv := range base {
		v := math.Float32bits(float32(float64(bv) + mixed[j]/math.Max(div[j], 1e-6)))
		out[j] = math.Float32frombits(v&kept[j] | math.Float32bits(bv)&^kept[j])
	}
}

// L1Sums adds, in element order, |float64(x[j] - base[j])| to sums[0] and, where u[j] < thr
// (thr at most 2^32, which keeps everything), to sums[1]: DARE's L1 norms of a task vector
// and of its kept part. Elements are added one after another, as a loop would, so the sums
// do not depend on the vector width. x, base and u must be at least as long as x.
func L1Sums(sums *[2]float64, x, base []float32, u []uint32, thr uint64) {
	base, u = base[:len(x)], u[:len(x)]
	body := 0
	if useAsm {
		if body = len(x) &^ 3; body > 0 {
			l1Sums(sums, &x[0], &base[0], &u[0], uint32(min(thr, 1<<32-1)), thr >= 1<<32, body)
		}
	}
	l1SumsGo(sums, x[body:], base[body:], u[body:], thr)
}

func l1SumsGo(sums *[2]float64, x, base []float32, u []uint32, thr uint64) {
	all, kept := sums[0], sums[1]
	for j, bv := range base {
		d := math.Abs(float64(x[j] - bv))
		all += d
		kept += math.Float64frombits(math.Float64bits(d) & -b2u(uint64(u[j]) < thr))
	}
	sums[0], sums[1] = all, kept
}

// PruneRandom sets d[j] = x[j] - base[j] where u[j] < thr (thr at most 2^32, which keeps
// everything) and +0 elsewhere. x, base and u must be at least as long as d.
func PruneRandom(d, x, base []float32, u []uint32, thr uint64) {
	if thr >= 1<<32 {
		MaskDelta(d, x, base, nil)
		return
	}
	x, base, u = x[:len(d)], base[:len(d)], u[:len(d)]
	body := 0
	if useAsm {
		if body = len(d) &^ 3; body > 0 {
			pruneRandom(&d[0], &x[0], &base[0], &u[0], uint32(thr), body)
		}
	}
	for j := body; j < len(d); j++ {
		d[j] = math.Float32frombits(math.Float32bits(x[j]-base[j]) & -uint32(b2u(uint64(u[j]) < thr)))
	}
}

// MaskDelta sets d[j] = x[j] - base[j] with its bits and-ed with keep[j] (all ones or zero);
// a nil keep keeps every element. x, base and keep must be at least as long as d.
func MaskDelta(d, x, base []float32, keep []uint32) {
	x, base = x[:len(d)], base[:len(d)]
	if keep == nil {
		for j, bv := range base {
			d[j] = x[j] - bv
		}
		return
	}
	keep = keep[:len(d)]
	body := 0
	if useAsm {
		if body = len(d) &^ 3; body > 0 {
			maskDelta(&d[0], &x[0], &base[0], &keep[0], body)
		}
	}
	for j := body; j < len(d); j++ {
		d[j] = math.Float32frombits(math.Float32bits(x[j]-base[j]) & keep[j])
	}
}

// golden is SplitMix64's increment (2^64 / golden ratio, odd).
const golden = 0x9e3779b97f4a7c15

// Mix64 is SplitMix64's output function (Steele, Lea and Flood, 2014).
func Mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// MixFill writes 32-bit draws from SplitMix64 words: word k is Mix64(c + (k+1)*golden), and
// gives dst[2k] its high half and dst[2k+1] its low half (an odd length ends with a high
// half).
func MixFill(dst []uint32, c uint64) {
	words := 0
	if useAsm {
		if words = len(dst) / 2 &^ 3; words > 0 {
			mixFill(&dst[0], c, words)
			c += uint64(words) * golden
		}
	}
	dst = dst[2*words:]
	j := 0
	for ; j+1 < len(dst); j += 2 {
		c += golden
		x := Mix64(c)
		dst[j], dst[j+1] = uint32(x>>32), uint32(x)
	}
	if j < len(dst) {
		dst[j] = uint32(Mix64(c+golden) >> 32)
	}
}

// SumSqKept adds, in element order, d*d with d = float64(x[j] - base[j]) to *s where keep[j]
// is all ones; elsewhere it adds +0, which leaves a sum of squares unchanged. base and keep
// must be at least as long as x.
func SumSqKept(s *float64, x, base []float32, keep []uint32) {
	base, keep = base[:len(x)], keep[:len(x)]
	body := 0
	if useAsm {
		if body = len(x) &^ 3; body > 0 {
			sumSqKept(s, &x[0], &base[0], &keep[0], body)
		}
	}
	sumSqKeptGo(s, x[body:], base[body:], keep[body:])
}

func sumSqKeptGo(s *float64, x, base []float32, keep []uint32) {
	acc := *s
	for j, bv := range base {
		d := float64(math.Float32frombits(math.Float32bits(x[j]-bv) & keep[j]))
		acc += d * d
	}
	*s = acc
}
