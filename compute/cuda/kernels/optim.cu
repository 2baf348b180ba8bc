// The optimizer: the gradient's sum of squares (float64, fixed chunks, a fixed tree) and
// AdamW with PyTorch's arithmetic in float64 per element, as the CPU device does it.

// sumsq_partial: part[first + c] = sum of squares of chunk c (chunk elements) of g.
extern "C" __global__ void sumsq_partial(double* part, const float* g, i64 n, int chunk, int first) {
	i64 c = blockIdx.x, lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
	double acc = 0.0;
	for (i64 i = lo + threadIdx.x; i < hi; i += blockDim.x) acc += (double)g[i] * (double)g[i];
	acc = block_sum_d(acc);
	if (threadIdx.x == 0) part[first + c] = acc;
}

// sum_doubles: out[0] = the sum of part[0..n) in a fixed order (one block).
extern "C" __global__ void sum_doubles(double* out, const double* part, int n) {
	double acc = 0.0;
	for (int i = threadIdx.x; i < n; i += blockDim.x) acc += part[i];
	acc = block_sum_d(acc);
	if (threadIdx.x == 0) out[0] = acc;
}

extern "C" __global__ void adamw(float* w, const float* grad, float* m, float* v, i64 n, double b1, double b2,
                                 double eps, double decay, double stepSize, double sqrtBC2, double gradScale) {
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
		double g = (double)grad[i] * gradScale;
		// The _rn intrinsics keep NVRTC from fusing a product and a sum into one FMA (it does
		// by default): the CPU device rounds each, and the two must agree bit for bit.
		double mi = __dadd_rn(__dmul_rn(b1, (double)m[i]), __dmul_rn(1.0 - b1, g));
		double vi = __dadd_rn(__dmul_rn(b2, (double)v[i]), __dmul_rn(__dmul_rn(1.0 - b2, g), g));
		m[i] = (float)mi;
		v[i] = (float)vi;
		double denom = sqrt((double)v[i]) / sqrtBC2 + eps;
		w[i] = (float)__dsub_rn(__dmul_rn((double)w[i], decay), stepSize * (double)m[i] / denom);
	}
}
