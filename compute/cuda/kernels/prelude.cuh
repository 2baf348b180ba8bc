// prelude.cuh: what every kernel file of ordermerge's CUDA device shares. It is compiled in
// front of the kernels by NVRTC on a GPU, and by the host C++ compiler against
// compute/cuda/emulator's cuda_emu.h in the tests, so the kernels keep to the subset of CUDA C
// both accept: no headers, no standard library, blocks of a multiple of 32 threads, dynamic
// shared memory through DYNAMIC_SHARED, reductions in a fixed order (no atomics), so a run
// repeats bit for bit.

#ifndef DYNAMIC_SHARED
#define DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

typedef unsigned short bf16;
typedef long long i64;

#define FULL_MASK 0xffffffffu
#define NEG_INF (__uint_as_float(0xff800000u))

// bfloat16 <-> float32: widening is exact; narrowing rounds to nearest even, and keeps NaN a
// quiet NaN, exactly as package tensor does on the host.
__device__ __forceinline__ float bf2f(bf16 h) { return __uint_as_float(((unsigned int)h) << 16); }

__device__ __forceinline__ bf16 f2bf(float f) {
	unsigned int u = __float_as_uint(f);
	if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16)((u >> 16) | 0x40u);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (bf16)(u >> 16);
}

// put stores a float32 result as the output's type: as is, or rounded to bf16 (f2bf), so one
// kernel body computes the same value for either output.
__device__ __forceinline__ void put(float* p, float v) { *p = v; }
__device__ __forceinline__ void put(bf16* p, float v) { *p = f2bf(v); }

__device__ __forceinline__ float warp_sum(float v) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v) {
	for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
	return v;
}

// block_sum returns the sum of v over the block to every thread (blockDim.x a multiple of
// 32, at most 1024). The order of the additions depends only on the block size.
__device__ float block_sum(float v) {
	__shared__ float part[32];
	__shared__ float total;
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
	v = warp_sum(v);
	__syncthreads();
	if (lane == 0) part[warp] = v;
	__syncthreads();
	if (warp == 0) {
		float t = lane < warps ? part[lane] : 0.0f;
		t = warp_sum(t);
		if (lane == 0) total = t;
	}
	__syncthreads();
	return total;
}

// block_max is block_sum's maximum.
__device__ float block_max(float v) {
	__shared__ float part[32];
	__shared__ float total;
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
	v = warp_max(v);
	__syncthreads();
	if (lane == 0) part[warp] = v;
	__syncthreads();
	if (warp == 0) {
		float t = lane < warps ? part[lane] : NEG_INF;
		t = warp_max(t);
		if (lane == 0) total = t;
	}
	__syncthreads();
	return total;
}

// block_sum_d sums doubles over the block through shared memory (a fixed tree).
__device__ double block_sum_d(double v) {
	__shared__ double s[1024];
	__syncthreads();
	s[threadIdx.x] = v;
	__syncthreads();
	for (unsigned int k = blockDim.x >> 1; k > 0; k >>= 1) {
		if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
		__syncthreads();
	}
	double r = s[0];
	__syncthreads();
	return r;
}
