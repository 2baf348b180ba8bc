package cpu

import "github.com/ordermerge/ordermerge/compute"

// RoPE applies rotary position embeddings the way Hugging Face's Llama does: dimension i of a
// head (i < headDim/2) is paired with dimension i + headDim/2 ("rotate_half"), and the pair
// at position p is rotated by p * theta^(-2i/headDim). Because the pairing is the halves of
// the head, q/k projection weights load from Hugging Face checkpoints without permutation.
type RoPE struct {
	headDim, maxPos int
	cos, sin        []float32 // maxPos x headDim/2
}

// NewRoPE precomputes the rotation tables for positions [0, maxPos) (compute.RoPEInvFreq
// and compute.RoPEAngles: the angles as transformers computes them).
func NewRoPE(headDim, maxPos int, theta float64) (*RoPE, error) {
	inv, err := compute.RoPEInvFreq(headDim, theta)
	if err != nil {
		return nil, err
	}
	cos, sin, err := compute.RoPEAngles(maxPos, inv)
	if err != nil {
		return nil, err
	}
	return &RoPE{headDim: headDim, maxPos: maxPos, cos: cos, sin: sin}, nil
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
	RoPEApply(be, x, n, ld, col, heads, r.headDim, pos, r.cos, r.sin, sign)
}

// RoPEApply rotates heads heads of headDim values from column col of each of the n rows of x
// (stride ld) by the angles of their positions, from tables cos and sin (position-major,
// headDim/2 per position); sign -1 rotates backwards (the transpose).
func RoPEApply(be Backend, x []float32, n, ld, col, heads, headDim int, pos []int32, cosT, sinT []float32, sign float32) {
	half := headDim / 2
	For(be.Threads(), n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p := int(pos[i])
			cs, sn := cosT[p*half:(p+1)*half], sinT[p*half:(p+1)*half]
			for h := 0; h < heads; h++ {
				base := i*ld + col + h*headDim
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
