//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// haveFMA is fixed at start-up by the CPU, not changed afterwards.
var haveFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kernel6x16FMA is the AVX2+FMA tile kernel in kernel_amd64.s: twelve 8-wide accumulators
// hold the 6x16 tile while k steps stream the packed panels.
//
//go:noescape
func kernel6x16FMA(k int, a, b, c *float32, ldc int)

//go:generate go run asm_gen.go

// kernelTile is the fastest tile kernel this CPU runs.
func kernelTile(k int, a, b, c []float32, ldc int) {
	if !haveFMA || k == 0 {
		kernelGeneric(k, a, b, c, ldc)
		return
	}
	_ = a[k*goMR-1]
	_ = b[k*goNR-1]
	_ = c[(goMR-1)*ldc+goNR-1]
	kernel6x16FMA(k, &a[0], &b[0], &c[0], ldc)
}
