package cpu

import (
	"fmt"
	"math"
)

// RoPE applies rotary position embeddings the way Hugging Face's Llama does: dimension i of a
// head (i < headDim/2) is paired with dimension i + headDim/2 ("rotate_half"), and the pair
// at position p is rotated by p * theta^(-2i/headDim). Because the pairing is the halves of
// the head, q/k projection weights load from Hugging Face checkpoints without permutation.
type RoPE struct {
	headDim, maxPos int
	cos, sin        []float32 // maxPos x headDim/2
}

// NewRoPE precomputes the rotation tables for positions [0, maxPos). The angles follow
// transformers: inverse frequencies and position*frequency products in float32, then cos and
// sin of that float32 angle.
func NewRoPE(headDim, maxPos int, theta float64) (*RoPE, error) {
	if headDim <= 0 || headDim%2 != 0 {
		return nil, fmt.Errorf("rope: head dimension %d must be positive and even", headDim)
	}
	if maxPos <= 0 || theta <= 0 {
		return nil, fmt.Errorf("rope: max positions %d and theta %g must be positive", maxPos, theta)
	}
	half := headDim / 2
	r := &RoPE{headDim: headDim, maxPos: maxPos, cos: make([]float32, maxPos*half), sin: make([]float32, maxPos*half)}
	inv := make([]float32, half)
	for i := range inv {
		inv[i] = float32(1 / math.Pow(theta, float64(2*i)/float64(headDim)))
	}
	for p := 0; p < maxPos; p++ {
		for i, f := range inv {
			ang := float64(float32(p) * f)
			r.cos[p*half+i] = float32(math.Cos(ang))
			r.sin[p*half+i] = float32(math.Sin(ang))
		}
	}
	return r, nil
}

// MaxPositions is the number of positions the tables cover.
func (r *RoPE) MaxPositions() int { return r.maxPos }

// Forward rotates, in place, heads consecutive heads starting at column col of each of the n
// rows of x (row stride ld); row i is at position pos[i] (< MaxPositions).
func (r *RoPE) Forward(be Backend, x []float32, n, ld, col, heads int, pos []int32) {
	r.apply(be, x, n, ld, col, heads, pos, 1)
}

// Backward turns the gradient with respect to the rotated values into the gradient with
// respect to the values before rotation, in place: the rotation's transpose, which is the
// rotation by the opposite angle.
func (r *RoPE) Backward(be Backend, dx []float32, n, ld, col, heads int, pos []int32) {
	r.apply(be, dx, n, ld, col, heads, pos, -1)
}

func (r *RoPE) apply(be Backend, x []float32, n, ld, col, heads int, pos []int32, sign float32) {
	half := r.headDim / 2
	For(be.Threads(), n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p := int(pos[i])
			cs, sn := r.cos[p*half:(p+1)*half], r.sin[p*half:(p+1)*half]
			for h := 0; h < heads; h++ {
				base := i*ld + col + h*r.headDim
				x1, x2 := x[base:base+half], x[base+half:base+2*half]
				for j := range x1 {
					a, b := x1[j], x2[j]
					c, s := cs[j], sign*sn[j]
					x1[j] = a*c - b*s
					x2[j] = b*c + a*s
				}
			}
		}
	})
}
