package seeded

import "math"

// RNG is a small deterministic random number generator (xoshiro256** seeded through
// splitmix64) with a fixed, documented output stream, which model initialisation and sampling
// rely on: the integer and uniform outputs are the same for a seed everywhere; Normal goes
// through math.Log and math.Cos, so it repeats exactly on one platform (run to run, machine to
// machine) but may differ in the last bit between CPU architectures. It never reads the
// clock. The zero value is not useful; use New.
type RNG struct{ s [4]uint64 }

// New returns a generator seeded with seed.
func New(seed uint64) *RNG {
	r := &RNG{}
	x := seed
	for i := range r.s {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		r.s[i] = z ^ (z >> 31)
	}
	return r
}

// Uint64 returns the next 64 random bits.
func (r *RNG) Uint64() uint64 {
	s := &r.s
	out := rotl(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = rotl(s[3], 45)
	return out
}

func rotl(x uint64, k uint) uint64 { return (x << k) | (x >> (64 - k)) }

// Float64 returns a uniform number in [0, 1) with 53 random bits.
func (r *RNG) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Intn returns a uniform integer in [0, n) (n > 0), without modulo bias.
func (r *RNG) Intn(n int) int {
	if n <= 0 {
		return 0
	}
	bound := uint64(n)
	limit := -bound % bound // 2^64 mod n: values below it would bias the result
	for {
		v := r.Uint64()
		if v >= limit {
			return int(v % bound)
		}
	}
}

// Normal returns a standard normal number (Box-Muller; both values of a pair are not cached,
// so the stream depends only on how many numbers were drawn).
func (r *RNG) Normal() float64 {
	u1 := 1 - r.Float64() // (0, 1]: log is finite
	u2 := r.Float64()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// Normals returns n values drawn from normal(0, std), as float32.
func (r *RNG) Normals(n int, std float64) []float32 {
	out := make([]float32, n)
	r.FillNormal(out, std)
	return out
}

// FillNormal fills x with values drawn from normal(0, std).
func (r *RNG) FillNormal(x []float32, std float64) {
	for i := range x {
		x[i] = float32(r.Normal() * std)
	}
}
