// Elementwise kernels: casts, residual adds, SwiGLU, RoPE, embedding lookups and gathers.
// Each thread walks a grid-stride loop, so any grid size covers any length.

#define GRID_STRIDE(i, n) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)
#define GRID_STRIDE_T(I, i, n) for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < (I)(n); i += (I)gridDim.x * blockDim.x)

// FOR_EACH runs its body for every i in [0, n) in a grid-stride loop whose index is 32 bits
// wide when n allows it: the index arithmetic of the layout kernels (a division and a
// remainder per element) then costs a fraction of what 64-bit division does. Bodies write
// their index types as decltype(i).
#define FOR_EACH(i, n, ...)                                            \
	do {                                                               \
		i64 n_ = (n);                                                  \
		if (n_ < 0x7fffffffLL) {                                       \
			GRID_STRIDE_T(unsigned, i, n_) { __VA_ARGS__ }             \
		} else {                                                       \
			GRID_STRIDE_T(i64, i, n_) { __VA_ARGS__ }                  \
		}                                                              \
	} while (0)

extern "C" __global__ void cast_f32_bf16(bf16* out, const float* in, i64 n) {
	// Four values a thread where both buffers are aligned for it: one 16-byte load and one
	// 8-byte store instead of four of each.
	if ((((unsigned long long)in) & 15) == 0 && (((unsigned long long)out) & 7) == 0) {
		i64 n4 = n / 4;
		GRID_STRIDE(i, n4) {
			float4 v = ((const float4*)in)[i];
			uint2 o;
			o.x = (unsigned int)f2bf(v.x) | ((unsigned int)f2bf(v.y) << 16);
			o.y = (unsigned int)f2bf(v.z) | ((unsigned int)f2bf(v.w) << 16);
			((uint2*)out)[i] = o;
		}
		GRID_STRIDE(i, n - 4 * n4) out[4 * n4 + i] = f2bf(in[4 * n4 + i]);
		return;
	}
	GRID_STRIDE(i, n) out[i] = f2bf(in[i]);
}

extern "C" __global__ void cast_bf16_f32(float* out, const bf16* in, i64 n) {
	GRID_STRIDE(i, n) out[i] = bf2f(in[i]);
}

extern "C" __global__ void add_f32(float* out, const float* a, const float* b, i64 n) {
	GRID_STRIDE(i, n) out[i] = a[i] + b[i];
}

extern "C" __global__ void add_to_f32(float* dst, const float* src, i64 n) {
	GRID_STRIDE(i, n) dst[i] += src[i];
}

// swiglu_forward: h = silu(gate) * up, gu row r = gate's f values then up's f values; h is
// float32 or rounded to bf16 (the down projection's product input).
template <typename T>
__device__ __forceinline__ void swiglu_forward_t(T* h, const float* gu, i64 rows, int f) {
	FOR_EACH(i, rows * f, {
		decltype(i) r = i / (decltype(i))f, j = i - r * (decltype(i))f;
		i64 at = 2 * (i64)r * f + j;
		float g = gu[at], u = gu[at + f];
		float s = 1.0f / (1.0f + expf(-g));
		put(h + i, g * s * u);
	});
}

extern "C" __global__ void swiglu_forward(float* h, const float* gu, i64 rows, int f) { swiglu_forward_t(h, gu, rows, f); }

extern "C" __global__ void swiglu_forward_bf16(bf16* h, const float* gu, i64 rows, int f) { swiglu_forward_t(h, gu, rows, f); }

// swiglu_backward: d gate = dh*up*sig*(1 + g*(1-sig)), d up = dh*silu(g); h recomputed.
// dgu and h are both float32 or both rounded to bf16 (product inputs).
template <typename T>
__device__ __forceinline__ void swiglu_backward_t(T* dgu, T* h, const float* dh, const float* gu, i64 rows, int f) {
	FOR_EACH(i, rows * f, {
		decltype(i) r = i / (decltype(i))f, j = i - r * (decltype(i))f;
		i64 at = 2 * (i64)r * f + j;
		float g = gu[at], u = gu[at + f];
		float s = 1.0f / (1.0f + expf(-g));
		float silu = g * s, d = dh[i];
		put(h + i, silu * u);
		put(dgu + at, d * u * s * (1.0f + g * (1.0f - s)));
		put(dgu + at + f, d * silu);
	});
}

extern "C" __global__ void swiglu_backward(float* dgu, float* h, const float* dh, const float* gu, i64 rows, int f) {
	swiglu_backward_t(dgu, h, dh, gu, rows, f);
}

extern "C" __global__ void swiglu_backward_bf16(bf16* dgu, bf16* h, const float* dh, const float* gu, i64 rows, int f) {
	swiglu_backward_t(dgu, h, dh, gu, rows, f);
}

// rope rotates pairs (i, i + hd/2) of heads heads from column col of each row (stride ld)
// by the angle of the row's position; sign -1 is the transpose (backward pass). rope works
// in place; rope_bf16 writes x rotated and rounded to bf16 into out (rows x ld, x's layout),
// the other columns of each row rounded as they are, and leaves x alone.
template <typename T>
__device__ __forceinline__ void rope_t(T* out, const float* x, const int* pos, const float* cosT, const float* sinT,
                                       i64 rows, int ld, int col, int heads, int hd, float sign) {
	int half = hd / 2;
	FOR_EACH(i, rows * heads * half, {
		decltype(i) w = (decltype(i))(heads * half), r = i / w;
		int rest = (int)(i - r * w);
		int h = rest / half, j = rest - h * half;
		int p = pos[r];
		float c = cosT[(i64)p * half + j], s = sign * sinT[(i64)p * half + j];
		i64 at = (i64)r * ld + col + h * hd + j;
		float a = x[at], b = x[at + half];
		put(out + at, a * c - b * s);
		put(out + at + half, b * c + a * s);
	});
}

extern "C" __global__ void rope(float* x, const int* pos, const float* cosT, const float* sinT,
                                i64 rows, int ld, int col, int heads, int hd, float sign) {
	rope_t(x, x, pos, cosT, sinT, rows, ld, col, heads, hd, sign);
}

extern "C" __global__ void rope_bf16(bf16* out, const float* x, const int* pos, const float* cosT, const float* sinT,
                                     i64 rows, int ld, int col, int heads, int hd, float sign) {
	rope_t(out, x, pos, cosT, sinT, rows, ld, col, heads, hd, sign);
	int rot = heads * hd, rest = ld - rot;
	FOR_EACH(i, rows * rest, {
		decltype(i) r = i / (decltype(i))rest;
		int k = (int)(i - r * (decltype(i))rest);
		i64 at = (i64)r * ld + (k < col ? k : k + rot);
		out[at] = f2bf(x[at]);
	});
}

extern "C" __global__ void embedding_forward(float* out, const float* table, const int* ids, i64 n, int d) {
	GRID_STRIDE(i, n * d) {
		i64 r = i / d;
		out[i] = table[(i64)ids[r] * d + (i - r * d)];
	}
}

// embedding_backward adds to each token's row the sum of its rows of dout, in position order:
// block row (blockIdx.x) u is the u-th distinct token, its rows are rows[offsets[u]] ..
// rows[offsets[u+1]-1] (grouped and ordered on the host); blockIdx.y picks the columns.
extern "C" __global__ void embedding_backward(float* dtable, const float* dout, const int* uniq,
                                              const int* offsets, const int* rows, int d) {
	int u = blockIdx.x;
	int j = blockIdx.y * blockDim.x + threadIdx.x;
	if (j >= d) return;
	float acc = 0.0f;
	for (int k = offsets[u]; k < offsets[u + 1]; k++) acc += dout[(i64)rows[k] * d + j];
	dtable[(i64)uniq[u] * d + j] += acc;
}

extern "C" __global__ void gather_rows_f32(float* dst, const float* src, const int* rows, i64 k, int d) {
	GRID_STRIDE(i, k * d) {
		i64 r = i / d;
		dst[i] = src[(i64)rows[r] * d + (i - r * d)];
	}
}

extern "C" __global__ void gather_rows_bf16(bf16* dst, const bf16* src, const int* rows, i64 k, int d) {
	GRID_STRIDE(i, k * d) {
		i64 r = i / d;
		dst[i] = src[(i64)rows[r] * d + (i - r * d)];
	}
}

extern "C" __global__ void scatter_rows_f32(float* dst, const float* src, const int* rows, i64 k, int d) {
	GRID_STRIDE(i, k * d) {
		i64 r = i / d;
		dst[(i64)rows[r] * d + (i - r * d)] = src[i];
	}
}

// row_offset is where element i of the layout (B, nh, T, hd) lives in rows of stride ld
// (B*T rows), its heads from column col.
template <typename I>
__device__ __forceinline__ i64 row_offset(I i, int T, int nh, int hd, int ld, int col) {
	I c = i % (I)hd, q = i / (I)hd;
	I t = q % (I)T;
	q /= (I)T;
	I h = q % (I)nh, b = q / (I)nh;
	return ((i64)b * T + (i64)t) * ld + col + (i64)h * hd + (i64)c;
}

// to_heads copies nh heads of hd values from column col of rows of stride ld (B*T rows) into
// the layout (B, nh, T, hd), as f32 or rounded to bf16.
extern "C" __global__ void to_heads_f32(float* dst, const float* src, int B, int T, int nh, int hd, int ld, int col) {
	FOR_EACH(i, (i64)B * T * nh * hd, dst[i] = src[row_offset(i, T, nh, hd, ld, col)];);
}

extern "C" __global__ void to_heads_bf16(bf16* dst, const float* src, int B, int T, int nh, int hd, int ld, int col) {
	FOR_EACH(i, (i64)B * T * nh * hd, dst[i] = f2bf(src[row_offset(i, T, nh, hd, ld, col)]););
}

// from_heads is to_heads' inverse: (B, nh, T, hd) back into rows of stride ld from column col,
// as f32 or rounded to bf16 (attention's output, the o projection's product input).
extern "C" __global__ void from_heads(float* dst, const float* src, int B, int T, int nh, int hd, int ld, int col) {
	FOR_EACH(i, (i64)B * T * nh * hd, dst[row_offset(i, T, nh, hd, ld, col)] = src[i];);
}

extern "C" __global__ void from_heads_bf16(bf16* dst, const float* src, int B, int T, int nh, int hd, int ld, int col) {
	FOR_EACH(i, (i64)B * T * nh * hd, dst[row_offset(i, T, nh, hd, ld, col)] = f2bf(src[i]););
}

// kv_append writes the keys and values of new rows into the caches: row r goes to cache
// position rowmeta[2r] * maxLen + rowmeta[2r+1] (slot, position).
extern "C" __global__ void kv_append(float* kc, float* vc, const float* qkv, const int* rowmeta,
                                     i64 n, int maxLen, int ld, int kcol, int kvw) {
	GRID_STRIDE(i, n * kvw) {
		i64 r = i / kvw;
		int c = (int)(i - r * kvw);
		i64 at = ((i64)rowmeta[2 * r] * maxLen + rowmeta[2 * r + 1]) * kvw + c;
		kc[at] = qkv[r * ld + kcol + c];
		vc[at] = qkv[r * ld + kcol + kvw + c];
	}
}
