// RMSNorm, forward and backward: one block per row for what reduces over a row; the weight
// gradient sums rows in fixed chunks, then the chunks in order (no atomics).

extern "C" __global__ void rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int d, float eps) {
	i64 row = blockIdx.x;
	const float* xr = x + row * d;
	float ss = 0.0f;
	for (int i = threadIdx.x; i < d; i += blockDim.x) ss += xr[i] * xr[i];
	ss = block_sum(ss);
	float r = 1.0f / sqrtf(ss / (float)d + eps);
	if (threadIdx.x == 0) rstd[row] = r;
	for (int i = threadIdx.x; i < d; i += blockDim.x) out[row * d + i] = xr[i] * r * w[i];
}

extern "C" __global__ void rmsnorm_apply(float* out, const float* x, const float* w, const float* rstd, i64 rows, int d) {
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < rows * d; i += (i64)gridDim.x * blockDim.x) {
		i64 r = i / d;
		out[i] = x[i] * rstd[r] * w[i - r * d];
	}
}

// rmsnorm_backward_dx: dx += rstd*w*dout - x * rstd^3/d * sum_j(dout_j w_j x_j).
extern "C" __global__ void rmsnorm_backward_dx(float* dx, const float* dout, const float* x, const float* w, const float* rstd, int d) {
	i64 row = blockIdx.x;
	const float* xr = x + row * d;
	const float* g = dout + row * d;
	float dot = 0.0f;
	for (int i = threadIdx.x; i < d; i += blockDim.x) dot += g[i] * w[i] * xr[i];
	dot = block_sum(dot);
	float r = rstd[row];
	float c = dot * r * r * r / (float)d;
	for (int i = threadIdx.x; i < d; i += blockDim.x) dx[row * d + i] += r * w[i] * g[i] - c * xr[i];
}

// rmsnorm_backward_dw_partial: part[chunk][j] = sum over the chunk's rows of dout*x*rstd.
extern "C" __global__ void rmsnorm_backward_dw_partial(float* part, const float* dout, const float* x, const float* rstd, i64 rows, int d, int chunk) {
	int j = blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= d) return;
	i64 r0 = (i64)blockIdx.y * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
	float acc = 0.0f;
	for (i64 r = r0; r < r1; r++) acc += dout[r * d + j] * x[r * d + j] * rstd[r];
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
