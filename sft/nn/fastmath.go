package nn

import "math"

// Exp32 is e^x in float32 with a relative error of a few units in the last place, several
// times faster than converting to float64 for math.Exp. Softmax and SiLU spend most of their
// time in exp, so this sets their speed. It is plain arithmetic: the same bits on every run.
func Exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2Hi = 0.693145751953125      // ln 2 rounded to a float32 with trailing zero bits
		ln2Lo = 1.42860682030941723e-6 // ln 2 - ln2Hi
	)
	switch {
	case x != x:
		return x
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -103.9:
		return 0
	}
	// x = n*ln2 + r with |r| <= ln2/2; e^x = 2^n * e^r.
	t := x*log2e + 0.5
	n := int32(t)
	if t < float32(n) { // floor for negative t
		n--
	}
	fn := float32(n)
	r := x - fn*ln2Hi
	r -= fn * ln2Lo
	// Taylor series of e^r to r^7/5040: below float32 resolution for |r| <= 0.347.
	p := float32(1.0 / 5040)
	p = p*r + 1.0/720
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	// Scale by 2^n in two steps so subnormal results (n < -126) come out right.
	if n < -126 {
		return p * math.Float32frombits(uint32(n+127+64)<<23) * math.Float32frombits(uint32(127-64)<<23)
	}
	if n > 127 {
		return p * 2 * math.Float32frombits(uint32(n-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// Sigmoid32 is 1/(1+e^-x) in float32.
func Sigmoid32(x float32) float32 { return 1 / (1 + Exp32(-x)) }
