package gemm

import "fmt"

// Blocking of the pure-Go matrix multiply: a kc x nc panel of B and an mc x kc panel of A are
// packed so the inner kernel streams through contiguous memory (L1: one kc-long sliver of each;
// L2: the A panel; L3: the B panel), and each mr x nr tile of C stays in registers.
const (
	goMR = 6
	goNR = 16
	goKC = 256
	goMC = 96
	goNC = 1024
)

// checkGemm panics with a readable message when the slices cannot hold the matrices: a
// programming error in this module, caught before any memory is touched.
func Check(transA, transB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	need := func(what string, rows, cols, ld, have int) {
		if ld < cols || (rows > 0 && (rows-1)*ld+cols > have) {
			panic(fmt.Sprintf("gemm: %s is %dx%d with leading dimension %d but holds %d values", what, rows, cols, ld, have))
		}
	}
	if transA {
		need("A", k, m, lda, la)
	} else {
		need("A", m, k, lda, la)
	}
	if transB {
		need("B", n, k, ldb, lb)
	} else {
		need("B", k, n, ldb, lb)
	}
	need("C", m, n, ldc, lc)
}

// scaleC sets C = beta*C (beta == 0 clears, even NaN).
func ScaleC(m, n int, beta float32, c []float32, ldc int) {
	switch beta {
	case 1:
		return
	case 0:
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
	default:
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// Gemm is the pure-Go matrix multiply (the contract of cpu.Backend.Gemm). Each element of C accumulates its k products in the same
// order whatever the blocking of m and n, so splitting C between goroutines changes no bit.
// ws holds the packing buffers (nil: allocate them for this call).
func Gemm(ws *Workspace, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmBlocked(ws, kernelTile, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Workspace holds the packed panels of one Gemm call at a time; reusing it across calls
// saves allocating them every call. The zero value is ready to use.
type Workspace struct{ ap, bp []float32 }

func (w *Workspace) buffers(na, nb int) (ap, bp []float32) {
	if w == nil {
		return make([]float32, na), make([]float32, nb)
	}
	if cap(w.ap) < na {
		w.ap = make([]float32, na)
	}
	if cap(w.bp) < nb {
		w.bp = make([]float32, nb)
	}
	return w.ap[:na], w.bp[:nb]
}

// tileKernel adds the product of a packed goMR x k panel of A and a packed k x goNR panel of
// B to the goMR x goNR tile of C at c (row stride ldc).
type tileKernel func(k int, a, b, c []float32, ldc int)

func gemmBlocked(ws *Workspace, kern tileKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k < 0 {
		k = 0
	}
	if k > 0 {
		Check(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	} else {
		Check(false, false, m, n, 0, 0, 0, 0, 0, len(c), ldc)
	}
	ScaleC(m, n, beta, c, ldc)
	if k == 0 || alpha == 0 {
		return
	}
	kc, nc, mc := min(k, goKC), min(n, goNC), min(m, goMC)
	ap, bp := ws.buffers(roundUp(mc, goMR)*kc, kc*roundUp(nc, goNR))
	var tile [goMR * goNR]float32
	for p0 := 0; p0 < k; p0 += goKC {
		pk := min(goKC, k-p0)
		for j0 := 0; j0 < n; j0 += goNC {
			jn := min(goNC, n-j0)
			packB(bp, b, ldb, transB, p0, pk, j0, jn)
			for i0 := 0; i0 < m; i0 += goMC {
				in := min(goMC, m-i0)
				packA(ap, a, lda, transA, i0, in, p0, pk, alpha)
				for jr := 0; jr < jn; jr += goNR {
					bs := bp[jr*pk : (jr+goNR)*pk]
					nr := min(goNR, jn-jr)
					for ir := 0; ir < in; ir += goMR {
						mr := min(goMR, in-ir)
						as := ap[ir*pk : (ir+goMR)*pk]
						off := (i0+ir)*ldc + j0 + jr
						if mr == goMR && nr == goNR {
							kern(pk, as, bs, c[off:off+(goMR-1)*ldc+goNR], ldc)
							continue
						}
						clear(tile[:])
						kern(pk, as, bs, tile[:], goNR)
						for r := 0; r < mr; r++ {
							row := c[off+r*ldc : off+r*ldc+nr]
							for j := range row {
								row[j] += tile[r*goNR+j]
							}
						}
					}
				}
			}
		}
	}
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// packA copies alpha*op(A)[i0:i0+in, p0:p0+pk] into panels of goMR rows, each stored k-major
// (the goMR values of one k side by side), zero-padding the last panel.
func packA(ap, a []float32, lda int, trans bool, i0, in, p0, pk int, alpha float32) {
	for ir := 0; ir < in; ir += goMR {
		panel := ap[ir*pk : (ir+goMR)*pk]
		for r := 0; r < goMR; r++ {
			i := i0 + ir + r
			switch {
			case ir+r >= in:
				for p := 0; p < pk; p++ {
					panel[p*goMR+r] = 0
				}
			case trans:
				for p := 0; p < pk; p++ {
					panel[p*goMR+r] = alpha * a[(p0+p)*lda+i]
				}
			default:
				row := a[i*lda+p0 : i*lda+p0+pk]
				for p, v := range row {
					panel[p*goMR+r] = alpha * v
				}
			}
		}
	}
}

// packB copies op(B)[p0:p0+pk, j0:j0+jn] into panels of goNR columns, each stored k-major,
// zero-padding the last panel.
func packB(bp, b []float32, ldb int, trans bool, p0, pk, j0, jn int) {
	for jr := 0; jr < jn; jr += goNR {
		panel := bp[jr*pk : (jr+goNR)*pk]
		nr := min(goNR, jn-jr)
		if !trans {
			for p := 0; p < pk; p++ {
				src := b[(p0+p)*ldb+j0+jr : (p0+p)*ldb+j0+jr+nr]
				dst := panel[p*goNR : p*goNR+goNR]
				copy(dst, src)
				clear(dst[nr:])
			}
			continue
		}
		for cc := 0; cc < goNR; cc++ {
			if cc >= nr {
				for p := 0; p < pk; p++ {
					panel[p*goNR+cc] = 0
				}
				continue
			}
			j := j0 + jr + cc
			row := b[j*ldb+p0 : j*ldb+p0+pk]
			for p, v := range row {
				panel[p*goNR+cc] = v
			}
		}
	}
}

// kernelGeneric is the portable tile kernel: plain Go, one row of the tile at a time so the
// compiler keeps the row's accumulators in registers.
func kernelGeneric(k int, a, b, c []float32, ldc int) {
	a, b = a[:k*goMR], b[:k*goNR]
	for r := 0; r < goMR; r++ {
		var acc [goNR]float32
		for p := 0; p < k; p++ {
			av := a[p*goMR+r]
			bp := b[p*goNR : p*goNR+goNR : p*goNR+goNR]
			for j := range acc {
				acc[j] += av * bp[j]
			}
		}
		row := c[r*ldc : r*ldc+goNR]
		for j := range row {
			row[j] += acc[j]
		}
	}
}

// GemmPortable is Gemm with the portable Go tile kernel only (tests compare it with the
// assembly one).
func GemmPortable(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmBlocked(nil, kernelGeneric, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
