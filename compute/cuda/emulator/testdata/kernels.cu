// kernels.cu: the test kernels, written in the subset of CUDA C that both NVRTC and the
// emulator's cuda_emu.h accept: no headers, no standard library, dynamic shared memory
// through DYNAMIC_SHARED.

#ifndef DYNAMIC_SHARED
#define DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

#define FULL 0xffffffffu

extern "C" __global__ void vec_add(float* out, const float* a, const float* b, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + b[i];
}

// geometry writes threadIdx, blockIdx, blockDim and gridDim of every thread: 12 values at
// 12 * (linear block * threads per block + linear thread).
extern "C" __global__ void geometry(unsigned int* out) {
  unsigned int tpb = blockDim.x * blockDim.y * blockDim.z;
  unsigned int t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  unsigned int b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  unsigned int* r = out + 12 * (b * tpb + t);
  r[0] = threadIdx.x, r[1] = threadIdx.y, r[2] = threadIdx.z;
  r[3] = blockIdx.x, r[4] = blockIdx.y, r[5] = blockIdx.z;
  r[6] = blockDim.x, r[7] = blockDim.y, r[8] = blockDim.z;
  r[9] = gridDim.x, r[10] = gridDim.y, r[11] = gridDim.z;
}

// tree_sum: out[block] = the sum of the block's elements, by a tree in static shared memory
// (blockDim.x a power of two).
extern "C" __global__ void tree_sum(float* out, const float* in, int n) {
  __shared__ float s[1024];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  s[threadIdx.x] = i < n ? in[i] : 0.0f;
  __syncthreads();
  for (unsigned int k = blockDim.x / 2; k > 0; k >>= 1) {
    if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}

// warp_reduce sums v over the lanes that exist (lanes of them, from lane 0), leaving the sum
// in lane 0: a partial warp must not add lanes past its end.
__device__ float warp_reduce(float v, int lanes) {
  unsigned int mask = lanes == 32 ? FULL : (1u << lanes) - 1u;
  int lane = threadIdx.x & 31;
  for (int o = 16; o > 0; o >>= 1) {
    float other = __shfl_down_sync(mask, v, o);
    if (lane + o < lanes) v += other;
  }
  return v;
}

// shuffle_sum: out[block] = the sum of the block's elements, by warp shuffles: every warp
// reduces, then warp 0 reduces the warps' sums. Any block size up to 1024.
extern "C" __global__ void shuffle_sum(float* out, const float* in, int n) {
  __shared__ float part[32];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int warps = (blockDim.x + 31) / 32;
  int lanes = (int)blockDim.x - warp * 32 < 32 ? (int)blockDim.x - warp * 32 : 32;
  float v = warp_reduce(i < n ? in[i] : 0.0f, lanes);
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float t = lane < warps ? part[lane] : 0.0f;
    t = warp_reduce(t, lanes);
    if (lane == 0) out[blockIdx.x] = t;
  }
}

// warp_ops: per thread, results of the other warp operations (blockDim.x a multiple of 32):
// out[8t..8t+7] = butterfly sum, inclusive scan, lane 3's value, lane 3's value in segments of
// 8, ballot of odd values, all/any of value > 0 and of value > 100, width-16 xor sum.
extern "C" __global__ void warp_ops(float* out, const float* in) {
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  int lane = threadIdx.x & 31;
  float v = in[t];
  float s = v;
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(FULL, s, o);
  float scan = v;
  for (int o = 1; o < 32; o <<= 1) {
    float up = __shfl_up_sync(FULL, scan, o);
    if (lane >= o) scan += up;
  }
  float b3 = __shfl_sync(FULL, v, 3);
  float seg = __shfl_sync(FULL, v, 3, 8);
  unsigned int odd = __ballot_sync(FULL, ((int)v) & 1);
  int all_pos = __all_sync(FULL, v > 0.0f);
  int any_big = __any_sync(FULL, v > 100.0f);
  float s16 = v;
  for (int o = 8; o > 0; o >>= 1) s16 += __shfl_xor_sync(FULL, s16, o, 16);
  __syncwarp();
  float* r = out + 8 * t;
  r[0] = s;
  r[1] = scan;
  r[2] = b3;
  r[3] = seg;
  r[4] = __uint_as_float(odd);
  r[5] = (float)(all_pos * 2 + any_big);
  r[6] = s16;
  r[7] = (float)__popc(odd);
}

// shuffle_int: integer shuffles, and lanes that read past a partial warp (blockDim.x 40:
// warp 1 has 8 lanes). out[2t] = int xor-shuffle, out[2t+1] = bits of a float read from 8
// lanes down.
extern "C" __global__ void shuffle_int(unsigned int* out) {
  int t = threadIdx.x, lane = t & 31;
  int lanes = (int)blockDim.x - (t & ~31) < 32 ? (int)blockDim.x - (t & ~31) : 32;
  unsigned int mask = lanes == 32 ? FULL : (1u << lanes) - 1u;
  int x = __shfl_xor_sync(mask, t * 10, 1);
  unsigned int u = __shfl_sync(mask, (unsigned int)t, 0);
  float f = __shfl_down_sync(mask, (float)t, 8);
  out[3 * t] = (unsigned int)x;
  out[3 * t + 1] = u;
  out[3 * t + 2] = __float_as_uint(f);
  (void)lane;
}

// early_exit: lanes 16-31 of every warp return; the others still shuffle and vote with the
// full mask (lanes that returned do not take part). Reading a returned lane's value (the
// shuffle down by 16) is undefined on a GPU; the emulator gives all one bits.
extern "C" __global__ void early_exit(unsigned int* out) {
  int t = threadIdx.x;
  if ((t & 31) >= 16) return;
  unsigned int x = __shfl_xor_sync(FULL, (unsigned int)t, 1);
  float f = __shfl_down_sync(FULL, (float)t, 16);
  unsigned int b = __ballot_sync(FULL, 1);
  out[3 * t] = x;
  out[3 * t + 1] = __float_as_uint(f);
  out[3 * t + 2] = b;
}

// dyn_reverse reverses each block's elements through dynamic shared memory.
extern "C" __global__ void dyn_reverse(float* out, const float* in) {
  DYNAMIC_SHARED(float, buf);
  int base = blockIdx.x * blockDim.x;
  buf[threadIdx.x] = in[base + threadIdx.x];
  __syncthreads();
  out[base + threadIdx.x] = buf[blockDim.x - 1 - threadIdx.x];
}

// dyn_fill writes words floats into dynamic shared memory and sums them (one thread).
extern "C" __global__ void dyn_fill(float* out, int words) {
  DYNAMIC_SHARED(float, buf);
  for (int i = threadIdx.x; i < words; i += blockDim.x) buf[i] = 1.0f;
  __syncthreads();
  if (threadIdx.x == 0) {
    float s = 0.0f;
    for (int i = 0; i < words; i++) s += buf[i];
    out[blockIdx.x] = s;
  }
}

// uninit reads shared memory nobody wrote in this block: out[block*blockDim + t] = its bits.
// Block 0 writes it first, so block 1 shows whether it carried over.
extern "C" __global__ void uninit(unsigned int* out) {
  __shared__ float s[64];
  DYNAMIC_SHARED(float, d);
  if (blockIdx.x == 0) {
    s[threadIdx.x] = 1.0f;
    d[threadIdx.x] = 2.0f;
    __syncthreads();
  }
  out[2 * (blockIdx.x * blockDim.x + threadIdx.x)] = __float_as_uint(s[threadIdx.x]);
  out[2 * (blockIdx.x * blockDim.x + threadIdx.x) + 1] = __float_as_uint(d[threadIdx.x]);
}

// atomics: each thread adds to shared counters; out gets them.
extern "C" __global__ void atomics(int* hist, float* fsum, unsigned int* usum, unsigned long long* big, int* mx,
                                   int* mn, int* cas, const int* values, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  int v = values[i];
  atomicAdd(&hist[v & 15], 1);
  atomicAdd(fsum, 0.5f);
  atomicAdd(usum, (unsigned int)v);
  atomicAdd(big, 1ull << 33);
  atomicMax(mx, v);
  atomicMin(mn, v);
  // A lock-free "add 3" through compare-and-swap.
  int old = *cas, assumed;
  do {
    assumed = old;
    old = atomicCAS(cas, assumed, assumed + 3);
  } while (old != assumed);
}

// math_fns writes one result per function of x = in[t] (out[32t..]).
extern "C" __global__ void math_fns(float* out, unsigned int* bits, const float* in) {
  int t = threadIdx.x;
  float x = in[t];
  float* r = out + 32 * t;
  r[0] = expf(x);
  r[1] = logf(x);
  r[2] = log1pf(x);
  r[3] = sqrtf(x);
  r[4] = rsqrtf(x);
  r[5] = fmaxf(x, 0.5f);
  r[6] = fminf(x, 0.5f);
  r[7] = fabsf(-x);
  r[8] = tanhf(x);
  r[9] = sinf(x);
  r[10] = cosf(x);
  r[11] = powf(x, 1.5f);
  r[12] = floorf(x);
  r[13] = ceilf(x);
  r[14] = erff(x);
  r[15] = __expf(x);
  r[16] = __logf(x);
  r[17] = __fdividef(x, 3.0f);
  r[18] = __saturatef(x - 1.0f);
  r[19] = (float)(isnan(x) * 4 + isinf(x) * 2 + isfinite(x));
  r[20] = __int_as_float(__float_as_int(x));
  r[21] = (float)min(3, -2) + (float)max(3u, 7u) * 10.0f;
  r[22] = (float)(min(5ll, 9ll) + max(-5ll, 2ll));
  r[23] = min(x, 1.0f) + max(x, 2.0f);
  bits[t] = __float_as_uint(x);
  r[24] = __uint_as_float(bits[t]);
  r[25] = (float)warpSize;
}

// printer prints from one thread (the test looks for the line).
extern "C" __global__ void printer(int value) {
  if (threadIdx.x == 1 && blockIdx.x == 0) printf("kernel printf: %d from thread %d\n", value, threadIdx.x);
}

// barrier_loop crosses iters barriers (for the fiber switch rate).
extern "C" __global__ void barrier_loop(int* out, int iters) {
  int acc = 0;
  for (int i = 0; i < iters; i++) {
    acc += i ^ threadIdx.x;
    __syncthreads();
  }
  if (acc == -1) out[0] = acc;
}

// fill writes value to n ints (the launch-limit tests use it).
extern "C" __global__ void fill(int* out, int value, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = value;
}

// no_args has no parameters.
extern "C" __global__ void no_args() {}
