package cpu

// LinearForward computes out = in @ W^T for n rows: in is n x inF, W is outF x inF (the
// Hugging Face / PyTorch layout of a Linear weight), out is n x outF. No bias: Llama has none.
func LinearForward(be Backend, out, in, w []float32, n, inF, outF int) {
	MatMul(be, false, true, n, outF, inF, 1, in, inF, w, inF, 0, out, outF)
}

// LinearBackward is the backward pass of LinearForward given dout (n x outF): it adds
// dout^T @ in to dw (outF x inF) and, when din is not nil, computes din = dout @ W
// (overwriting din, or adding to it when accumulate is set).
func LinearBackward(be Backend, din, dw, dout, in, w []float32, n, inF, outF int, accumulate bool) {
	if din != nil {
		LinearBackwardInput(be, din, dout, w, n, inF, outF, accumulate)
	}
	LinearBackwardWeight(be, dw, dout, in, n, inF, outF)
}

// LinearBackwardInput is the input half of LinearBackward: din = dout @ W (or din += with
// accumulate).
func LinearBackwardInput(be Backend, din, dout, w []float32, n, inF, outF int, accumulate bool) {
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	MatMul(be, false, false, n, inF, outF, 1, dout, outF, w, inF, beta, din, inF)
}

// LinearBackwardWeight is the weight half of LinearBackward: dw += dout^T @ in.
func LinearBackwardWeight(be Backend, dw, dout, in []float32, n, inF, outF int) {
	MatMul(be, true, false, outF, inF, n, 1, dout, outF, in, inF, 1, dw, inF)
}

// LinearForwardAdd adds in @ W^T to out (a residual connection fused into the product).
func LinearForwardAdd(be Backend, out, in, w []float32, n, inF, outF int) {
	MatMul(be, false, true, n, outF, inF, 1, in, inF, w, inF, 1, out, outF)
}
