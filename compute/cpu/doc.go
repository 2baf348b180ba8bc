// Package nn is the compute core of the trainer: float32 operations with hand-written forward
// and backward passes, and the matrix-multiply backends behind them.
//
// Each operation family lives in one file with its forward and backward side by side
// (embedding, linear, rmsnorm, rope, attention, swiglu, residual, crossentropy), working on
// flat row-major []float32 buffers the caller allocates once and reuses, as llm.c does. The
// only thing a backend provides is a general matrix multiply (Backend.Gemm): OpenBLAS's
// cblas_sgemm through cgo when the binary is built with cgo, a pure-Go blocked multiply with
// an assembly tile kernel otherwise (and on request). Everything else is Go split over
// Backend.Threads() goroutines on fixed partitions, and every reduction sums in an order that
// does not depend on scheduling, so a run repeats bit for bit for the same backend and thread
// count.
//
// It also defines the contract between models and the trainer (Param, Batch, Model), so the
// trainer in package sft never depends on a particular model.
package cpu
