//go:build !amd64 || purego

package gemm

// kernelTile is the portable tile kernel on CPUs without an assembly one.
func kernelTile(k int, a, b, c []float32, ldc int) { kernelGeneric(k, a, b, c, ldc) }
