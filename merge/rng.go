package merge

import "math"

// The random numbers of randomised methods are counter-based: the number for element j of a
// tensor is a pure function of (seed, tensor name, stream, j), so it does not depend on the
// order in which tensors are merged, on how many goroutines run, or on how a tensor is cut into
// chunks. doc.go states the derivation exactly, for users who reproduce a merge elsewhere.

// golden is the SplitMix64 increment (2^64 / golden ratio, odd).
const golden = 0x9e3779b97f4a7c15

// mix64 is the SplitMix64 output function (Steele, Lea and Flood, 2014).
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

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

// stream is the random stream number s of one tensor: Uint64(j) is the (j+1)-th output of a
// SplitMix64 generator whose state starts at the stream key, computed directly.
type stream struct{ key uint64 }

func newStream(seed uint64, name string, s uint64) stream {
	return stream{key: mix64(tensorKey(seed, name) + (s+1)*golden)}
}

// Uint64 returns the number for counter j (an element or unit index).
func (r stream) Uint64(j int) uint64 { return mix64(r.key + uint64(j+1)*golden) }

// u53 returns the top 53 bits of the number for counter j: u53 * 2^-53 is uniform in [0, 1).
func (r stream) u53(j int) uint64 { return r.Uint64(j) >> 11 }

// probThreshold turns a probability p in [0, 1] into the integer bound T with
// u53 < T  <=>  u53 * 2^-53 < p, so comparisons need no floating point in the hot loops.
func probThreshold(p float64) uint64 {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return 1 << 53
	}
	return uint64(math.Ceil(p * (1 << 53)))
}

// picker draws an index i in [0, n) with probability w_i / sum(w): the first i whose
// cumulative share (w_0 + ... + w_i) / sum(w), computed in float64 left to right, exceeds
// u53 * 2^-53.
type picker struct {
	thr []uint64 // thr[i] = probThreshold(cumulative share up to i); the last is 2^53
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
		thr[i] = 1 << 53
		if w[i] > 0 {
			break
		}
	}
	return picker{thr: thr}
}

// pick maps u53 to an index: the number of thresholds at or below it (they increase, and
// the last is 2^53 > u53), counted without branches.
func (p picker) pick(u53 uint64) int {
	s := 0
	for _, t := range p.thr[:len(p.thr)-1] {
		s += int(b2i(u53 >= t))
	}
	return s
}
