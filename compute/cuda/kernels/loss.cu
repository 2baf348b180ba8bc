// The cross-entropy half of the fused LM head (the products are cuBLAS's) and greedy argmax.

// cross_entropy: block r handles logits row r of a chunk whose rows are idx[base + r] of the
// batch with targets tgt[base + r]. rowLoss[idx] = logsumexp - z[target]; with scale set the
// row becomes d loss / d z = scale[idx] * (softmax - onehot) in place (and in dzbf, as bf16).
extern "C" __global__ void cross_entropy(float* logits, bf16* dzbf, float* rowLoss, const int* idx, const int* tgt,
                                         const float* scale, int V, int base) {
	i64 r = blockIdx.x;
	float* z = logits + r * V;
	int row = idx[base + r], t = tgt[base + r];
	float mx = NEG_INF;
	for (int j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, z[j]);
	mx = block_max(mx);
	float sum = 0.0f;
	for (int j = threadIdx.x; j < V; j += blockDim.x) sum += expf(z[j] - mx);
	sum = block_sum(sum);
	__shared__ float zt;
	if (threadIdx.x == 0) {
		zt = z[t];
		rowLoss[row] = (float)((double)mx + log((double)sum) - (double)zt);
	}
	__syncthreads();
	if (!scale) return;
	float sc = scale[row], f = sc / sum;
	for (int j = threadIdx.x; j < V; j += blockDim.x) {
		float v = expf(z[j] - mx) * f;
		if (j == t) v -= sc;
		z[j] = v;
		if (dzbf) dzbf[r * V + j] = f2bf(v);
	}
}

// argmax: out[r] = the index of row r's largest value, the lowest on ties; NaN never wins
// over a number (all NaN: 0).
__device__ __forceinline__ bool better(float v, int i, float bv, int bi) {
	bool vn = v != v, bn = bv != bv;
	if (vn != bn) return bn;
	if (vn) return i < bi;
	return v > bv || (v == bv && i < bi);
}

extern "C" __global__ void argmax(int* out, const float* x, int n) {
	__shared__ float sv[1024];
	__shared__ int si[1024];
	i64 r = blockIdx.x;
	const float* row = x + r * n;
	float bv = NEG_INF;
	int bi = -1;
	for (int j = threadIdx.x; j < n; j += blockDim.x) {
		if (bi < 0 || better(row[j], j, bv, bi)) {
			bv = row[j];
			bi = j;
		}
	}
	sv[threadIdx.x] = bv;
	si[threadIdx.x] = bi;
	__syncthreads();
	for (unsigned int k = blockDim.x >> 1; k > 0; k >>= 1) {
		if (threadIdx.x < k) {
			int oi = si[threadIdx.x + k];
			if (oi >= 0 && (si[threadIdx.x] < 0 || better(sv[threadIdx.x + k], oi, sv[threadIdx.x], si[threadIdx.x]))) {
				sv[threadIdx.x] = sv[threadIdx.x + k];
				si[threadIdx.x] = oi;
			}
		}
		__syncthreads();
	}
	if (threadIdx.x == 0) out[r] = si[0] < 0 ? 0 : si[0];
}
