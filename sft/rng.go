package sft

import (
	"math"
	"math/bits"
)

// RNG is a small seeded pseudo-random generator (SplitMix64). The trainer uses it instead of
// math/rand so that an order seed gives the same permutation on every machine and Go version:
// the algorithm, the bounded-integer reduction and the shuffle are all defined here. It is not
// safe for concurrent use.
type RNG struct {
	state uint64
}

// NewRNG returns a generator seeded with seed. Every seed, 0 included, is valid.
func NewRNG(seed uint64) *RNG { return &RNG{state: seed} }

// Uint64 returns the next 64 random bits.
func (r *RNG) Uint64() uint64 {
	r.state += 0x9e3779b97f4a7c15
	return mix64(r.state)
}

// mix64 is SplitMix64's finaliser: a bijection that spreads every input bit over the output.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Intn returns a uniform integer in [0, n). It returns 0 when n <= 0.
func (r *RNG) Intn(n int) int {
	if n <= 0 {
		return 0
	}
	// Lemire's multiply-and-reject: unbiased, one multiplication in the common case.
	bound := uint64(n)
	hi, lo := bits.Mul64(r.Uint64(), bound)
	if lo < bound {
		threshold := -bound % bound
		for lo < threshold {
			hi, lo = bits.Mul64(r.Uint64(), bound)
		}
	}
	return int(hi)
}

// Float64 returns a uniform float64 in [0, 1) with 53 random bits.
func (r *RNG) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// NormFloat64 returns a standard normal value (Box-Muller; two uniforms per call, nothing
// cached, so the generator's whole state is its one word).
func (r *RNG) NormFloat64() float64 {
	u1 := 1 - r.Float64() // (0, 1]: log never sees 0
	u2 := r.Float64()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// Shuffle permutes n elements with Fisher-Yates, calling swap(i, j) for each exchange.
func (r *RNG) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		j := r.Intn(i + 1)
		swap(i, j)
	}
}

// Perm returns a random permutation of 0..n-1.
func (r *RNG) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

// DeriveSeed mixes a seed with further values (an epoch, a purpose tag, a variant index) into a
// new seed, so that independent streams never share state: DeriveSeed(s, 1) and
// DeriveSeed(s, 2) start unrelated sequences.
func DeriveSeed(seed uint64, parts ...uint64) uint64 {
	h := mix64(seed ^ 0x6a09e667f3bcc909)
	for _, p := range parts {
		h = mix64(h ^ mix64(p+0x9e3779b97f4a7c15))
	}
	return h
}
