//go:build !amd64 || purego

package vec

const useAsm = false

func mulTo(a *float64, x *float32, w float64, n int) { panic("unreachable") }

func addMul(a *float64, x *float32, w float64, n int) { panic("unreachable") }

func narrow(o *float32, a *float64, s float64, n int) { panic("unreachable") }

func sumSqDiff(d *[4]float64, x, y *float32, n int) { panic("unreachable") }

func countEqual(x, y *float32, n int) int64 { panic("unreachable") }

func addTask(acc *float64, x, base *float32, w, s float64, n int) { panic("unreachable") }

func addTaskKept(acc *float64, x, base *float32, u *uint32, thr uint32, w, s float64, n int) {
	panic("unreachable")
}

func addBase(o, base *float32, acc *float64, lambda float64, n int) { panic("unreachable") }

func addBaseDiv(o, base *float32, acc *float64, div, lambda float64, n int) {
	panic("unreachable")
}

func dotTask(d *[4]float64, x, y, base *float32, n int) { panic("unreachable") }

func blend(o, base *float32, acc *float64, div, t float64, n int) { panic("unreachable") }

func addSqDev(v *float64, x, base *float32, mean *float64, n int) { panic("unreachable") }

func quotients(a *float64, div float64, n int) { panic("unreachable") }

func elect(mixed, div, wd *float64, s32 *float32, w float64, n int) { panic("unreachable") }

func pruneAbove(d, x, base *float32, cut uint32, n int) bool { panic("unreachable") }

func dropAbove(d *float32, cut uint32, n int) bool { panic("unreachable") }

func magKeys(keys *uint32, x, base *float32, n int) { panic("unreachable") }

func ramAdd(sum, cnt, lam *float64, x, base *float32, eps float32, lambda float64, n int) {
	panic("unreachable")
}

func ramFinish(o, base *float32, sum, cnt, lam *float64, n int) { panic("unreachable") }

func weigh(wd *float64, d *float32, w, s float64, w32, s32 float32, n int) { panic("unreachable") }

func addF32(s, v *float32, n int) { panic("unreachable") }

func electFinish(out, base *float32, mixed, div *float64, lambda float64, normalize bool, n int) {
	panic("unreachable")
}

func bucketCounts(lo *int64, keys *uint32, hb uint32, n int) int64 { panic("unreachable") }

func electTask(mixed, div *float64, x, base *float32, sum *float64, w float64, n int) {
	panic("unreachable")
}

func sceFinish(out, base *float32, mixed, div *float64, kept *uint32, n int) { panic("unreachable") }

func l1Sums(sums *[2]float64, x, base *float32, u *uint32, thr uint32, all bool, n int) {
	panic("unreachable")
}

func pruneRandom(d, x, base *float32, u *uint32, thr uint32, n int) { panic("unreachable") }

func maskDelta(d, x, base *float32, keep *uint32, n int) { panic("unreachable") }

func mixFill(dst *uint32, c uint64, n int) { panic("unreachable") }

func sumSqKept(s *float64, x, base *float32, keep *uint32, n int) { panic("unreachable") }
