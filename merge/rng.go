package merge

import (
	"math"

	"github.com/ordermerge/ordermerge/merge/internal/vec"
)

// The random numbers of randomised methods are counter-based: the number for element j of a
// tensor is a pure function of (seed, tensor name, stream, j), so it does not depend on the
// order in which tensors are merged, on how many goroutines run, or on how a tensor is cut into
// chunks. doc.go states the derivation exactly, for users who reproduce a merge elsewhere.

// golden is the SplitMix64 increment (2^64 / golden ratio, odd).
const golden = 0x9e3779b97f4a7c15

// mix64 is the SplitMix64 output function (Steele, Lea and Flood, 2014).
func mix64(z uint64) uint64 { return vec.Mix64(z) }

// fnv1a64 hashes a tensor name (its UTF-8 bytes) with 64-bit FNV-1a.
func fnv1a64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// tensorKey is the key every stream of one tensor derives from.
func tensorKey(seed uint64, name string) uint64 {
	return mix64(mix64(seed) ^ fnv1a64(name))
}

// stream is the random stream number s of one tensor. Its words are SplitMix64's outputs from
// the stream key, computed directly: word(c) is output number c+1. Each word gives two 32-bit
// draws, so one multiply-heavy mix serves two elements: draw j is the high half of word(j/2)
// for even j and the low half for odd j.
type stream struct{ key uint64 }

func newStream(seed uint64, name string, s uint64) stream {
	return stream{key: mix64(tensorKey(seed, name) + (s+1)*golden)}
}

// uOne is 2^32: a draw u is an integer in [0, 2^32), read as the fraction u / 2^32.
const uOne = 1 << 32

// word returns output number c+1 of the stream.
func (r stream) word(c int) uint64 { return mix64(r.key + uint64(c+1)*golden) }

// u returns draw j.
func (r stream) u(j int) uint64 {
	x := r.word(j >> 1)
	if j&1 == 0 {
		return x >> 32
	}
	return x & (uOne - 1)
}

// fill writes draws offset, offset+1, ... into dst; offset must be even.
func (r stream) fill(dst []uint32, offset int) {
	vec.MixFill(dst, r.key+uint64(offset/2)*golden) // four words at a time in AVX2
}

// probThreshold turns a probability p in [0, 1] into the integer bound T with
// u < T  <=>  u / 2^32 < p, so comparisons need no floating point in the hot loops.
func probThreshold(p float64) uint64 {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return uOne
	}
	return uint64(math.Ceil(p * uOne))
}

// picker draws an index i in [0, n) with probability w_i / sum(w): the first i whose
// cumulative share (w_0 + ... + w_i) / sum(w), computed in float64 left to right, exceeds
// u / 2^32.
type picker struct {
	thr []uint64 // thr[i] = probThreshold(cumulative share up to i); the last is 2^32
}

func newPicker(w []float64) picker {
	var sum float64
	for _, x := range w {
		sum += x
	}
	thr := make([]uint64, len(w))
	var acc float64
	for i, x := range w {
		acc += x
		thr[i] = probThreshold(acc / sum)
	}
	// Rounding may leave the last share a hair under 1: the last model with a positive weight
	// takes everything above, so a zero-weight model is never drawn.
	for i := len(w) - 1; i >= 0; i-- {
		thr[i] = uOne
		if w[i] > 0 {
			break
		}
	}
	return picker{thr: thr}
}

// pick maps a draw u to an index: the number of thresholds at or below it (they increase,
// and the last is 2^32 > u), counted without branches.
func (p picker) pick(u uint64) int {
	s := 0
	for _, t := range p.thr[:len(p.thr)-1] {
		s += int(b2i(u >= t))
	}
	return s
}
