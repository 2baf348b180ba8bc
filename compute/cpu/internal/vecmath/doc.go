// Package vecmath holds the elementwise kernels that dominate the non-matrix work of a
// training step -- exp for softmax and cross-entropy, and the SwiGLU activation with its
// gradient -- as 8-wide AVX2+FMA assembly on amd64 CPUs that have it, and portable Go
// otherwise. Like the gemm package it sits apart from package cpu, which uses cgo and so
// cannot hold Go assembly.
//
// The exp is a Cody-Waite reduction and a degree-7 polynomial: a few units in the last place
// of float32; it saturates to about e^88 above and e^-87 below (what softmax and sigmoid need)
// and passes NaN through.
package vecmath
