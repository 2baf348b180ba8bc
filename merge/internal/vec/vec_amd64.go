//go:build amd64 && !purego

package vec

import "golang.org/x/sys/cpu"

// useAsm is fixed at start-up by the CPU.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasPOPCNT

// The assembly bodies take n, a positive multiple of 4 (8 for countEqual), elements.

//go:noescape
func mulTo(a *float64, x *float32, w float64, n int)

//go:noescape
func addMul(a *float64, x *float32, w float64, n int)

//go:noescape
func narrow(o *float32, a *float64, s float64, n int)

//go:noescape
func sumSqDiff(d *[4]float64, x, y *float32, n int)

//go:noescape
func countEqual(x, y *float32, n int) int64

//go:noescape
func addTask(acc *float64, x, base *float32, w, s float64, n int)

//go:noescape
func addTaskKept(acc *float64, x, base *float32, u *uint32, thr uint32, w, s float64, n int)

//go:noescape
func addBase(o, base *float32, acc *float64, lambda float64, n int)

//go:noescape
func addBaseDiv(o, base *float32, acc *float64, div, lambda float64, n int)

//go:noescape
func dotTask(d *[4]float64, x, y, base *float32, n int)

//go:noescape
func blend(o, base *float32, acc *float64, div, t float64, n int)

//go:noescape
func addSqDev(v *float64, x, base *float32, mean *float64, n int)

//go:noescape
func quotients(a *float64, div float64, n int)

//go:noescape
func elect(mixed, div, wd *float64, s32 *float32, w float64, n int)

//go:noescape
func pruneAbove(d, x, base *float32, cut uint32, n int) bool

//go:noescape
func dropAbove(d *float32, cut uint32, n int) bool

//go:noescape
func magKeys(keys *uint32, x, base *float32, n int)

//go:noescape
func ramAdd(sum, cnt, lam *float64, x, base *float32, eps float32, lambda float64, n int)

//go:noescape
func ramFinish(o, base *float32, sum, cnt, lam *float64, n int)

//go:noescape
func weigh(wd *float64, d *float32, w, s float64, w32, s32 float32, n int)

//go:noescape
func addF32(s, v *float32, n int)

//go:noescape
func electFinish(out, base *float32, mixed, div *float64, lambda float64, normalize bool, n int)

//go:noescape
func bucketCounts(lo *int64, keys *uint32, hb uint32, n int) int64

//go:noescape
func electTask(mixed, div *float64, x, base *float32, sum *float64, w float64, n int)

//go:noescape
func sceFinish(out, base *float32, mixed, div *float64, kept *uint32, n int)

//go:noescape
func l1Sums(sums *[2]float64, x, base *float32, u *uint32, thr uint32, all bool, n int)

//go:noescape
func pruneRandom(d, x, base *float32, u *uint32, thr uint32, n int)

//go:noescape
func maskDelta(d, x, base *float32, keep *uint32, n int)

//go:noescape
func mixFill(dst *uint32, c uint64, n int)

//go:noescape
func sumSqKept(s *float64, x, base *float32, keep *uint32, n int)
