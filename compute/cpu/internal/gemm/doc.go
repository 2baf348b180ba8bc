// Package gemm is the pure-Go float32 matrix multiply behind nn's "go" backend: packed,
// cache-blocked panels and a register-tiled kernel (AVX2+FMA assembly on amd64 CPUs that have
// it, portable Go elsewhere). It lives apart from package cpu because a package that uses cgo
// (nn's OpenBLAS backend) cannot also hold Go assembly.
package gemm
