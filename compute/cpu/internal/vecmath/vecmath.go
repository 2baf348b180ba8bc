package vecmath

import "math"

// ExpShift sets dst[i] = exp(src[i] - shift) and returns the sum of the results, adding in
// a fixed order (eight interleaved partial sums, then the tail), so the same input always
// gives the same bits. dst and src may be the same slice.
func ExpShift(dst, src []float32, shift float32) float32 {
	n := len(src)
	dst = dst[:n]
	body := 0
	var sum float32
	if useAsm && n >= 8 {
		body = n &^ 7
		sum = expShift(&dst[0], &src[0], body, shift)
	} else if n >= 8 {
		body = n &^ 7
		sum = expShiftGo(dst[:body], src[:body], shift)
	}
	for i := body; i < n; i++ {
		e := Exp(src[i] - shift)
		dst[i] = e
		sum += e
	}
	return sum
}

// expShiftGo is ExpShift's portable body for a multiple of 8 values, summing in the same
// lane order as the assembly.
func expShiftGo(dst, src []float32, shift float32) float32 {
	var acc [8]float32
	for i := 0; i < len(src); i += 8 {
		for l := 0; l < 8; l++ {
			e := Exp(src[i+l] - shift)
			dst[i+l] = e
			acc[l] += e
		}
	}
	// Same reduction tree as the assembly: halves, then pairs.
	var h [4]float32
	for l := 0; l < 4; l++ {
		h[l] = acc[l] + acc[l+4]
	}
	a, b := h[0]+h[2], h[1]+h[3]
	return a + b
}

// SwiGLU sets h[i] = silu(g[i]) * u[i], silu(x) = x*sigmoid(x).
func SwiGLU(h, g, u []float32) {
	n := len(g)
	h, u = h[:n], u[:n]
	body := 0
	if useAsm && n >= 8 {
		body = n &^ 7
		swigluFwd(&h[0], &g[0], &u[0], body)
	}
	for i := body; i < n; i++ {
		h[i] = g[i] * sigmoid(g[i]) * u[i]
	}
}

// SwiGLUGrad computes, with s = sigmoid(g): dg = dh*u*s*(1 + g*(1-s)) and du = dh*g*s, the
// gradient of h = silu(g)*u, and recomputes h itself (the backward pass needs it as the input
// of the next product's weight gradient).
func SwiGLUGrad(dg, du, h, g, u, dh []float32) {
	n := len(g)
	dg, du, h, u, dh = dg[:n], du[:n], h[:n], u[:n], dh[:n]
	body := 0
	if useAsm && n >= 8 {
		body = n &^ 7
		swigluBwd(&dg[0], &du[0], &h[0], &g[0], &u[0], &dh[0], body)
	}
	for i := body; i < n; i++ {
		x := g[i]
		s := sigmoid(x)
		silu := x * s
		h[i] = silu * u[i]
		du[i] = dh[i] * silu
		dg[i] = dh[i] * u[i] * s * (1 + x*(1-s))
	}
}

func sigmoid(x float32) float32 { return 1 / (1 + Exp(-x)) }

// Exp is the scalar form of the kernels' exp (same reduction and polynomial, same limits).
func Exp(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2Hi = 0.693145751953125
		ln2Lo = 1.42860682030941723e-6
	)
	if x != x {
		return x
	}
	x = min(max(x, -87.3), 88.0)
	fn := float32(math.RoundToEven(float64(x * log2e)))
	r := x - fn*ln2Hi
	r -= fn * ln2Lo
	p := float32(1.0 / 5040)
	p = p*r + 1.0/720
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	return p * math.Float32frombits(uint32(int32(fn)+127)<<23)
}
