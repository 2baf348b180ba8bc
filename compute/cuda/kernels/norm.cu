// RMSNorm, forward and backward: one block per vector for what reduces over a vector; the
// weight gradient sums vectors in fixed chunks, then the chunks in order (no atomics).
// Vectors are packed rows (group 0) or strided in a wider matrix: vector r starts at
// (r/group)*ld + col + (r%group)*d (compute.Norm).

__device__ __forceinline__ i64 vec_at(i64 r, int d, int ld, int col, int group) {
	return group ? (r / group) * ld + col + (r % group) * d : r * d;
}

// rmsnorm_forward (float32 out) and rmsnorm_forward_bf16 (out rounded to bf16, the product
// input of the projections after the norm) compute the same values.
template <typename T>
__device__ __forceinline__ void rmsnorm_forward_t(T* out, float* rstd, const float* x, const float* w, int d, float eps,
                                                  int ld, int col, int group) {
	i64 row = blockIdx.x, at = vec_at(row, d, ld, col, group);
	const float* xr = x + at;
	float ss = 0.0f;
	for (int i = threadIdx.x; i < d; i += blockDim.x) ss += xr[i] * xr[i];
	ss = block_sum(ss);
	float r = 1.0f / sqrtf(ss / (float)d + eps);
	if (threadIdx.x == 0) rstd[row] = r;
	for (int i = threadIdx.x; i < d; i += blockDim.x) put(out + at + i, xr[i] * r * w[i]);
}

extern "C" __global__ void rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int d, float eps,
                                            int ld, int col, int group) {
	rmsnorm_forward_t(out, rstd, x, w, d, eps, ld, col, group);
}

extern "C" __global__ void rmsnorm_forward_bf16(bf16* out, float* rstd, const float* x, const float* w, int d, float eps,
                                                 int ld, int col, int group) {
	rmsnorm_forward_t(out, rstd, x, w, d, eps, ld, col, group);
}

template <typename T>
__device__ __forceinline__ void rmsnorm_apply_t(T* out, const float* x, const float* w, const float* rstd, i64 rows, int d,
                                                int ld, int col, int group) {
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < rows * d; i += (i64)gridDim.x * blockDim.x) {
		i64 r = i / d;
		int j = (int)(i - r * d);
		i64 at = vec_at(r, d, ld, col, group) + j;
		put(out + at, x[at] * rstd[r] * w[j]);
	}
}

extern "C" __global__ void rmsnorm_apply(float* out, const float* x, const float* w, const float* rstd, i64 rows, int d,
                                          int ld, int col, int group) {
	rmsnorm_apply_t(out, x, w, rstd, rows, d, ld, col, group);
}

extern "C" __global__ void rmsnorm_apply_bf16(bf16* out, const float* x, const float* w, const float* rstd, i64 rows, int d,
                                               int ld, int col, int group) {
	rmsnorm_apply_t(out, x, w, rstd, rows, d, ld, col, group);
}

// rmsnorm_backward_dx: dx += rstd*w*dout - x * rstd^3/d * sum_j(dout_j w_j x_j); with
// replace, dx = that (dx may be dout: each element is read before it is written); with dxb,
// the new dx is also stored rounded to bf16 there (the product input of the layer below).
extern "C" __global__ void rmsnorm_backward_dx(float* dx, bf16* dxb, const float* dout, const float* x, const float* w, const float* rstd, int d,
                                               int ld, int col, int group, int replace) {
	i64 row = blockIdx.x, at = vec_at(row, d, ld, col, group);
	const float* xr = x + at;
	const float* g = dout + at;
	float dot = 0.0f;
	for (int i = threadIdx.x; i < d; i += blockDim.x) dot += g[i] * w[i] * xr[i];
	dot = block_sum(dot);
	float r = rstd[row];
	float c = dot * r * r * r / (float)d;
	for (int i = threadIdx.x; i < d; i += blockDim.x) {
		float v = r * w[i] * g[i] - c * xr[i];
		if (!replace) v = dx[at + i] + v;
		dx[at + i] = v;
		if (dxb) dxb[at + i] = f2bf(v);
	}
}

// rmsnorm_backward_dw_partial: part[chunk][j] = sum over the chunk's rows of dout*x*rstd.
extern "C" __global__ void rmsnorm_backward_dw_partial(float* part, const float* dout, const float* x, const float* rstd, i64 rows, int d, int chunk,
                                                       int ld, int col, int group) {
	int j = blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= d) return;
	i64 r0 = (i64)blockIdx.y * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
	float acc = 0.0f;
	for (i64 r = r0; r < r1; r++) {
		i64 at = vec_at(r, d, ld, col, group) + j;
		acc += dout[at] * x[at] * rstd[r];
	}
	part[(i64)blockIdx.y * d + j] = acc;
}

// sum_chunks: dst[j] += sum over chunks c in order of part[c][j].
extern "C" __global__ void sum_chunks(float* dst, const float* part, int chunks, int d) {
	int j = blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= d) return;
	float acc = 0.0f;
	for (int c = 0; c < chunks; c++) acc += part[(i64)c * d + j];
	dst[j] += acc;
}

// add_bias: x[r][c] += b[c].
extern "C" __global__ void add_bias(float* x, const float* b, i64 rows, int cols) {
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < rows * cols; i += (i64)gridDim.x * blockDim.x)
		x[i] += b[i % cols];
}

// bias_partial: part[chunk][c] = sum over the chunk's rows of dout[r][c].
extern "C" __global__ void bias_partial(float* part, const float* dout, i64 rows, int cols, int chunk) {
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= cols) return;
	i64 r0 = (i64)blockIdx.y * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
	float acc = 0.0f;
	for (i64 r = r0; r < r1; r++) acc += dout[r * cols + c];
	part[(i64)blockIdx.y * cols + c] = acc;
}
