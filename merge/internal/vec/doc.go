// Package vec holds the loops that dominate a streaming merge once its reads are served from
// the page cache: the float64 weighted sums of linear merging and the report's per-tensor
// statistics (squared distances and equality counts). On amd64 CPUs with AVX2 they run as
// 4-wide assembly; elsewhere, and with the purego build tag, as the portable Go beside it.
//
// Both forms compute bit for bit the same results: the assembly uses separate multiplies and
// adds (no fused multiply-add, which rounds once instead of twice), and a sum is split into
// the same four interleaved partial sums, combined in the same order, as the Go code. A merge
// therefore writes the same bytes on every machine, NaNs aside: which NaN an operation on two
// NaNs returns depends on the order of its operands, which Go's compiler is free to swap.
package vec
