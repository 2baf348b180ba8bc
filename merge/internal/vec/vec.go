package vec

// Each function runs the assembly over the longest prefix it handles and the portable loop
// (the ...Go function, which also defines the result) over the rest, or over everything where
// there is no assembly.

// MulTo sets a[j] = w * float64(x[j]) for j < len(a); x must be at least as long as a.
func MulTo(a []float64, w float64, x []float32) {
	x = x[:len(a)]
	body := 0
	if useAsm {
		if body = len(a) &^ 3; body > 0 {
			mulTo(&a[0], &x[0], w, body)
		}
	}
	mulToGo(a[body:], w, x[body:])
}

func mulToGo(a []float64, w float64, x []float32) {
	for j := range a {
		a[j] = w * float64(x[j])
	}
}

// AddMul sets a[j] += w * float64(x[j]) for j < len(a); x must be at least as long as a.
func AddMul(a []float64, w float64, x []float32) {
	x = x[:len(a)]
	body := 0
	if useAsm {
		if body = len(a) &^ 3; body > 0 {
			addMul(&a[0], &x[0], w, body)
		}
	}
	addMulGo(a[body:], w, x[body:])
}

func addMulGo(a []float64, w float64, x []float32) {
	for j := range a {
		a[j] += w * float64(x[j])
	}
}

// Narrow sets o[j] = float32(a[j] * s) for j < len(o) (rounded to nearest, ties to even); a
// must be at least as long as o.
func Narrow(o []float32, a []float64, s float64) {
	a = a[:len(o)]
	body := 0
	if useAsm {
		if body = len(o) &^ 3; body > 0 {
			narrow(&o[0], &a[0], s, body)
		}
	}
	narrowGo(o[body:], a[body:], s)
}

func narrowGo(o []float32, a []float64, s float64) {
	for j := range o {
		o[j] = float32(a[j] * s)
	}
}

// SumSqDiff returns the sum over j < len(x) of e*e, e = float64(x[j] - y[j]) (the difference
// taken in float32), in a fixed order: element j goes to partial sum j mod 4 (the tail beyond
// the last multiple of 4 to partial sum 0), and the four are combined as (s0+s1)+(s2+s3). y
// must be at least as long as x.
func SumSqDiff(x, y []float32) float64 {
	y = y[:len(x)]
	var d [4]float64
	body := len(x) &^ 3
	if useAsm && body > 0 {
		sumSqDiff(&d, &x[0], &y[0], body)
	} else {
		sumSqDiffGo(&d, x[:body], y[:body])
	}
	for j := body; j < len(x); j++ {
		e := float64(x[j] - y[j])
		d[0] += e * e
	}
	return (d[0] + d[1]) + (d[2] + d[3])
}

// sumSqDiffGo adds to the four partial sums d over x and y, of a length divisible by 4.
func sumSqDiffGo(d *[4]float64, x, y []float32) {
	y = y[:len(x)]
	for j := 0; j+4 <= len(x); j += 4 {
		e0 := float64(x[j] - y[j])
		e1 := float64(x[j+1] - y[j+1])
		e2 := float64(x[j+2] - y[j+2])
		e3 := float64(x[j+3] - y[j+3])
		d[0] += e0 * e0
		d[1] += e1 * e1
		d[2] += e2 * e2
		d[3] += e3 * e3
	}
}

// CountEqual returns how many j < len(x) have x[j] == y[j] as Go compares floats (NaN equals
// nothing, +0 equals -0). y must be at least as long as x.
func CountEqual(x, y []float32) int64 {
	y = y[:len(x)]
	var n int64
	body := 0
	if useAsm {
		if body = len(x) &^ 7; body > 0 {
			n = countEqual(&x[0], &y[0], body)
		}
	}
	return n + countEqualGo(x[body:], y[body:])
}

func countEqualGo(x, y []float32) int64 {
	y = y[:len(x)]
	var n int64
	for j, v := range x {
		if v == y[j] {
			n++
		}
	}
	return n
}
