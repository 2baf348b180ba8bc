// Attention around cuBLAS's batched products: the causal softmax of the scores (forward and
// backward, one block per row) and attention against a KV cache for incremental decoding.

// first_key is the first key a query at position t sees (window 0: no sliding window).
__device__ __forceinline__ int first_key(int t, int window) { return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0; }

// softmax_causal turns each row of scores (already scaled) into probabilities over keys
// lo..t (t = row % T, lo the window's first key) and zeroes the rest; with pbf it also
// stores them rounded to bf16.
extern "C" __global__ void softmax_causal(float* att, bf16* pbf, int T, int window) {
	i64 row = blockIdx.x;
	int t = (int)(row % T), lo = first_key(t, window);
	float* p = att + row * T;
	float mx = NEG_INF;
	for (int j = lo + threadIdx.x; j <= t; j += blockDim.x) mx = fmaxf(mx, p[j]);
	mx = block_max(mx);
	float sum = 0.0f;
	for (int j = lo + threadIdx.x; j <= t; j += blockDim.x) {
		float e = expf(p[j] - mx);
		p[j] = e;
		sum += e;
	}
	sum = block_sum(sum);
	float inv = 1.0f / sum;
	for (int j = threadIdx.x; j < T; j += blockDim.x) {
		float v = j >= lo && j <= t ? p[j] * inv : 0.0f;
		p[j] = v;
		if (pbf) pbf[row * T + j] = f2bf(v);
	}
}

// softmax_causal_backward: ds = p * (dp - sum_j p_j dp_j) on keys 0..t (zero above). In f32
// it is written in place over dp; with dsbf (bf16 products) only rounded to bf16 there, and
// p rounded to bf16 into pbf in the same pass (the product for dV), so neither the float32
// ds nor a second pass over p is paid for.
extern "C" __global__ void softmax_causal_backward(float* ds, bf16* dsbf, bf16* pbf, const float* att, int T) {
	i64 row = blockIdx.x;
	int t = (int)(row % T);
	const float* p = att + row * T;
	float* d = ds + row * T;
	float dot = 0.0f;
	for (int j = threadIdx.x; j <= t; j += blockDim.x) dot += p[j] * d[j];
	dot = block_sum(dot);
	for (int j = threadIdx.x; j < T; j += blockDim.x) {
		float pj = j <= t ? p[j] : 0.0f;
		float v = j <= t ? pj * (d[j] - dot) : 0.0f;
		if (dsbf) {
			dsbf[row * T + j] = f2bf(v);
			pbf[row * T + j] = f2bf(pj);
		} else {
			d[j] = v;
		}
	}
}

// attention_cached: block (r, h) attends new row r's query head h to the cached keys and
// values of its sequence, positions 0..pos (rowmeta[2r] = slot, rowmeta[2r+1] = pos). The
// scores live in dynamic shared memory: hd + maxLen floats.
extern "C" __global__ void attention_cached(float* out, const float* qkv, const float* kc, const float* vc,
                                            const int* rowmeta, int H, int KV, int hd, int maxLen, float scale, int window) {
	DYNAMIC_SHARED(float, sm);
	int r = blockIdx.x, h = blockIdx.y;
	int slot = rowmeta[2 * r], keys = rowmeta[2 * r + 1] + 1, lo = first_key(keys - 1, window);
	int g = h / (H / KV), ld = (H + 2 * KV) * hd, kvw = KV * hd;
	float* q = sm;
	float* p = sm + hd;
	for (int i = threadIdx.x; i < hd; i += blockDim.x) q[i] = qkv[(i64)r * ld + h * hd + i];
	__syncthreads();
	const float* K = kc + (i64)slot * maxLen * kvw + g * hd;
	const float* V = vc + (i64)slot * maxLen * kvw + g * hd;
	float mx = NEG_INF;
	for (int j = lo + threadIdx.x; j < keys; j += blockDim.x) {
		float s = 0.0f;
		for (int i = 0; i < hd; i++) s += q[i] * K[(i64)j * kvw + i];
		s *= scale;
		p[j] = s;
		mx = fmaxf(mx, s);
	}
	mx = block_max(mx);
	float sum = 0.0f;
	for (int j = lo + threadIdx.x; j < keys; j += blockDim.x) {
		float e = expf(p[j] - mx);
		p[j] = e;
		sum += e;
	}
	sum = block_sum(sum);
	float inv = 1.0f / sum;
	__syncthreads();
	for (int i = threadIdx.x; i < hd; i += blockDim.x) {
		float acc = 0.0f;
		for (int j = lo; j < keys; j++) acc += p[j] * V[(i64)j * kvw + i];
		out[(i64)r * H * hd + h * hd + i] = acc * inv;
	}
}
