/* cuda_emu.h: the CUDA C dialect of ordermerge's kernels, for the host C++ compiler.
 *
 * The fake NVRTC compiles every program as: this header, the program's source, then one
 * registration line per `extern "C" __global__ void NAME(` of the source. The result is a
 * shared object that the fake driver loads as a module and runs on the CPU: the blocks of a
 * grid one after another, the threads of a block as fibers on the calling thread (see
 * fibers.cpp). Everything a kernel can use is declared here; README.md lists it.
 *
 * The first part (the module ABI) is also read by the fake driver, with EMU_ABI_ONLY defined.
 */
#ifndef ORDERMERGE_CUDA_EMU_H
#define ORDERMERGE_CUDA_EMU_H

/* ---- Module ABI: what a compiled module exports and what the driver gives it. ---- */

#define EMU_ABI_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

typedef struct emu_uint3 {
  unsigned int x, y, z;
} emu_uint3;

/* Warp operations, the kind argument of emu_runtime.warp_op. */
enum {
  EMU_SYNCWARP = 1,
  EMU_SHFL_IDX,
  EMU_SHFL_UP,
  EMU_SHFL_DOWN,
  EMU_SHFL_XOR,
  EMU_VOTE_ALL,
  EMU_VOTE_ANY,
  EMU_VOTE_BALLOT
};

/* The driver's entry points a kernel calls (file and line name the call site in messages). */
typedef struct emu_runtime {
  void (*syncthreads)(const char* file, int line);
  /* warp_op synchronises the lanes of mask in the caller's warp and returns the caller's
   * result: a shuffled value (all ones when the source lane does not take part), a vote, or 0. */
  unsigned long long (*warp_op)(int kind, unsigned int mask, unsigned long long value, int arg,
                                int width, const char* file, int line);
  void (*trap)(const char* file, int line); /* does not return */
} emu_runtime;

/* The module's built-in variables, written by the driver before and during a launch. */
typedef struct emu_module_state {
  emu_uint3 threadIdx, blockIdx, blockDim, gridDim;
  const emu_runtime* rt;
  void* dynamic_shared;
} emu_module_state;

/* Exported by every module as emu_module. */
typedef struct emu_module_info {
  int abi_version;
  emu_module_state* state;
  /* The module's static __shared__ variables: the driver fills them with 0xFF bytes before
   * every block, as uninitialised shared memory. */
  char* shared_begin;
  char* shared_end;
} emu_module_info;

/* Exported by a module as emu_kernel_NAME for each kernel NAME. */
typedef struct emu_kernel_info {
  int abi_version;
  const char* name;
  const char* params; /* the parameter list as written in the source */
  int nargs;
  const unsigned char* arg_is_pointer;
  const unsigned int* arg_size;
  void (*entry)(void** params); /* runs the kernel for the current thread */
} emu_kernel_info;

#ifdef __cplusplus
}
#endif

#ifndef EMU_ABI_ONLY

/* ---- The dialect. ---- */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __constant__ static
/* Blocks run one after another, so one static object per __shared__ variable is the block's
 * shared memory. They live in their own section so the driver can poison them per block. */
#define __shared__ static __attribute__((section("emu_shared")))
/* Dynamic shared memory: `DYNAMIC_SHARED(float, buf);` is `extern __shared__ float buf[];`
 * on a GPU. Here it is the launch's sharedMemBytes bytes, 256-byte aligned. */
#define DYNAMIC_SHARED(type, name) type* const name = static_cast<type*>(emu_state.dynamic_shared)

typedef emu_uint3 uint3;
typedef emu_uint3 dim3;

static emu_module_state emu_state;
static __attribute__((section("emu_shared"), used)) char emu_shared_anchor[1];
extern "C" char __start_emu_shared[] __attribute__((visibility("hidden")));
extern "C" char __stop_emu_shared[] __attribute__((visibility("hidden")));
extern "C" __attribute__((visibility("default"))) const emu_module_info emu_module = {
    EMU_ABI_VERSION, &emu_state, __start_emu_shared, __stop_emu_shared};

/* Read-only, as on a GPU. */
static const uint3& threadIdx = emu_state.threadIdx;
static const uint3& blockIdx = emu_state.blockIdx;
static const dim3& blockDim = emu_state.blockDim;
static const dim3& gridDim = emu_state.gridDim;
static constexpr int warpSize = 32;

/* ---- Synchronisation. ---- */

#define __syncthreads() (emu_state.rt->syncthreads(__FILE__, __LINE__))
#define __syncwarp(...) (emu_syncwarp{__FILE__, __LINE__}(__VA_ARGS__))
#define __threadfence() ((void)0)
#define __threadfence_block() ((void)0)
#define __threadfence_system() ((void)0)
#define __trap() (emu_state.rt->trap(__FILE__, __LINE__), __builtin_unreachable())

/* __syncwarp() and __syncwarp(mask) through one macro: the call site, then the mask. */
struct emu_syncwarp {
  const char* file;
  int line;
  void operator()(unsigned int mask = 0xffffffffu) const {
    emu_state.rt->warp_op(EMU_SYNCWARP, mask, 0, 0, 32, file, line);
  }
};

/* Shuffles take the types CUDA's do. */
template <class T>
struct emu_shuffles
    : std::integral_constant<bool, std::is_same<T, int>::value || std::is_same<T, unsigned int>::value ||
                                       std::is_same<T, long>::value || std::is_same<T, unsigned long>::value ||
                                       std::is_same<T, long long>::value ||
                                       std::is_same<T, unsigned long long>::value ||
                                       std::is_same<T, float>::value || std::is_same<T, double>::value> {};

template <class T>
static inline T emu_shfl(int kind, const char* file, int line, unsigned int mask, T var, int arg,
                         int width = 32) {
  static_assert(emu_shuffles<T>::value,
                "warp shuffles take int, unsigned, long, long long (signed or unsigned), float or double");
  unsigned long long bits = 0;
  memcpy(&bits, &var, sizeof(T));
  bits = emu_state.rt->warp_op(kind, mask, bits, arg, width, file, line);
  T out;
  memcpy(&out, &bits, sizeof(T));
  return out;
}

#define __shfl_sync(...) emu_shfl(EMU_SHFL_IDX, __FILE__, __LINE__, __VA_ARGS__)
#define __shfl_up_sync(...) emu_shfl(EMU_SHFL_UP, __FILE__, __LINE__, __VA_ARGS__)
#define __shfl_down_sync(...) emu_shfl(EMU_SHFL_DOWN, __FILE__, __LINE__, __VA_ARGS__)
#define __shfl_xor_sync(...) emu_shfl(EMU_SHFL_XOR, __FILE__, __LINE__, __VA_ARGS__)
#define __all_sync(mask, pred) \
  ((int)emu_state.rt->warp_op(EMU_VOTE_ALL, (mask), (pred) ? 1 : 0, 0, 32, __FILE__, __LINE__))
#define __any_sync(mask, pred) \
  ((int)emu_state.rt->warp_op(EMU_VOTE_ANY, (mask), (pred) ? 1 : 0, 0, 32, __FILE__, __LINE__))
#define __ballot_sync(mask, pred) \
  ((unsigned int)emu_state.rt->warp_op(EMU_VOTE_BALLOT, (mask), (pred) ? 1 : 0, 0, 32, __FILE__, __LINE__))

/* ---- Atomics: the threads of a launch take turns on one OS thread, so a plain
 * read-modify-write is atomic. Each returns the old value. ---- */

#define EMU_ATOMIC(name, T, expr)             \
  static inline T name(T* address, T val) {   \
    T old = *address;                         \
    *address = (expr);                        \
    return old;                               \
  }
EMU_ATOMIC(atomicAdd, float, old + val)
EMU_ATOMIC(atomicAdd, double, old + val)
EMU_ATOMIC(atomicAdd, int, (int)((unsigned int)old + (unsigned int)val))
EMU_ATOMIC(atomicAdd, unsigned int, old + val)
EMU_ATOMIC(atomicAdd, unsigned long long, old + val)
EMU_ATOMIC(atomicSub, int, (int)((unsigned int)old - (unsigned int)val))
EMU_ATOMIC(atomicSub, unsigned int, old - val)
EMU_ATOMIC(atomicExch, int, val)
EMU_ATOMIC(atomicExch, unsigned int, val)
EMU_ATOMIC(atomicExch, unsigned long long, val)
EMU_ATOMIC(atomicExch, float, val)
EMU_ATOMIC(atomicMax, int, old > val ? old : val)
EMU_ATOMIC(atomicMax, unsigned int, old > val ? old : val)
EMU_ATOMIC(atomicMax, unsigned long long, old > val ? old : val)
EMU_ATOMIC(atomicMin, int, old < val ? old : val)
EMU_ATOMIC(atomicMin, unsigned int, old < val ? old : val)
EMU_ATOMIC(atomicMin, unsigned long long, old < val ? old : val)
EMU_ATOMIC(atomicAnd, int, old & val)
EMU_ATOMIC(atomicAnd, unsigned int, old & val)
EMU_ATOMIC(atomicOr, int, old | val)
EMU_ATOMIC(atomicOr, unsigned int, old | val)
EMU_ATOMIC(atomicXor, int, old ^ val)
EMU_ATOMIC(atomicXor, unsigned int, old ^ val)
#undef EMU_ATOMIC

#define EMU_ATOMIC_CAS(T)                                          \
  static inline T atomicCAS(T* address, T compare, T val) {        \
    T old = *address;                                              \
    if (old == compare) *address = val;                            \
    return old;                                                    \
  }
EMU_ATOMIC_CAS(int)
EMU_ATOMIC_CAS(unsigned int)
EMU_ATOMIC_CAS(unsigned long long)
#undef EMU_ATOMIC_CAS

/* ---- Math and intrinsics (the float and double functions of <math.h> are CUDA's too). ---- */

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
/* glibc declares these names itself, so they are macros here. */
#define __expf expf
#define __logf logf
#define __log2f log2f
#define __powf powf
#define __sinf sinf
#define __cosf cosf
#define __tanf tanf
static inline float __fdividef(float x, float y) { return x / y; }
static inline float __frcp_rn(float x) { return 1.0f / x; }
static inline float __fsqrt_rn(float x) { return sqrtf(x); }
static inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
static inline float __fadd_rn(float x, float y) { return x + y; }
static inline float __fmul_rn(float x, float y) { return x * y; }
static inline double __dmul_rn(double x, double y) { return x * y; }
static inline double __dadd_rn(double x, double y) { return x + y; }
static inline double __dsub_rn(double x, double y) { return x - y; }
static inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }
static inline int __float2int_rn(float x) { return (int)rintf(x); }
static inline int __float2int_rz(float x) { return (int)x; }
static inline int __float2int_rd(float x) { return (int)floorf(x); }
static inline int __float2int_ru(float x) { return (int)ceilf(x); }
static inline unsigned int __float2uint_rn(float x) { return (unsigned int)rintf(x); }
static inline float __int2float_rn(int x) { return (float)x; }

static inline unsigned int __float_as_uint(float x) {
  unsigned int u;
  memcpy(&u, &x, 4);
  return u;
}
static inline int __float_as_int(float x) {
  int i;
  memcpy(&i, &x, 4);
  return i;
}
static inline float __uint_as_float(unsigned int u) {
  float x;
  memcpy(&x, &u, 4);
  return x;
}
static inline float __int_as_float(int i) {
  float x;
  memcpy(&x, &i, 4);
  return x;
}
static inline long long __double_as_longlong(double x) {
  long long i;
  memcpy(&i, &x, 8);
  return i;
}
static inline double __longlong_as_double(long long i) {
  double x;
  memcpy(&x, &i, 8);
  return x;
}

static inline int __popc(unsigned int x) { return __builtin_popcount(x); }
static inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned int)x); }
static inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline int __ffsll(long long x) { return __builtin_ffsll(x); }
static inline unsigned int __brev(unsigned int x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
  return (x >> 16) | (x << 16);
}

template <class T>
static inline T __ldg(const T* p) {
  return *p;
}

/* min and max as CUDA declares them for device code. */
#define EMU_MINMAX(A, B, R)                                       \
  static inline R min(A a, B b) { return (R)a < (R)b ? (R)a : (R)b; } \
  static inline R max(A a, B b) { return (R)a > (R)b ? (R)a : (R)b; }
EMU_MINMAX(int, int, int)
EMU_MINMAX(unsigned int, unsigned int, unsigned int)
EMU_MINMAX(int, unsigned int, unsigned int)
EMU_MINMAX(unsigned int, int, unsigned int)
EMU_MINMAX(long, long, long)
EMU_MINMAX(unsigned long, unsigned long, unsigned long)
EMU_MINMAX(long long, long long, long long)
EMU_MINMAX(unsigned long long, unsigned long long, unsigned long long)
EMU_MINMAX(long long, unsigned long long, unsigned long long)
EMU_MINMAX(unsigned long long, long long, unsigned long long)
#undef EMU_MINMAX
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }
static inline double min(double a, double b) { return fmin(a, b); }
static inline double max(double a, double b) { return fmax(a, b); }
static inline double min(float a, double b) { return fmin(a, b); }
static inline double max(float a, double b) { return fmax(a, b); }
static inline double min(double a, float b) { return fmin(a, b); }
static inline double max(double a, float b) { return fmax(a, b); }

/* ---- Vector types. ---- */

#define EMU_VEC2(T, name, A)                                                     \
  struct __align__(A) name {                                                     \
    T x, y;                                                                      \
  };                                                                             \
  static inline name make_##name(T x, T y) { return name{x, y}; }
#define EMU_VEC4(T, name, A)                                                     \
  struct __align__(A) name {                                                     \
    T x, y, z, w;                                                                \
  };                                                                             \
  static inline name make_##name(T x, T y, T z, T w) { return name{x, y, z, w}; }
EMU_VEC2(float, float2, 8)
EMU_VEC4(float, float4, 16)
EMU_VEC2(int, int2, 8)
EMU_VEC4(int, int4, 16)
EMU_VEC2(unsigned int, uint2, 8)
EMU_VEC4(unsigned int, uint4, 16)
EMU_VEC2(double, double2, 16)
#undef EMU_VEC2
#undef EMU_VEC4
static inline uint3 make_uint3(unsigned int x, unsigned int y, unsigned int z) { return uint3{x, y, z}; }

/* ---- Kernel registration (the fake NVRTC appends one EMU_KERNEL line per kernel). ---- */

template <auto F>
struct emu_kernel;

template <class... A, void (*F)(A...)>
struct emu_kernel<F> {
  template <size_t... I>
  static void run(void** p, std::index_sequence<I...>) {
    F(*static_cast<typename std::remove_cv<A>::type*>(p[I])...);
  }
  static void entry(void** p) { run(p, std::index_sequence_for<A...>{}); }
  static constexpr unsigned char is_pointer[] = {(unsigned char)std::is_pointer<A>::value..., 0};
  static constexpr unsigned int size[] = {(unsigned int)sizeof(A)..., 0};
};

#define EMU_KERNEL(name, params)                                                             \
  extern "C" __attribute__((visibility("default"))) const emu_kernel_info emu_kernel_##name = { \
      EMU_ABI_VERSION,                                                                       \
      #name,                                                                                 \
      params,                                                                                \
      (int)(sizeof(emu_kernel<&name>::size) / sizeof(unsigned int)) - 1,                     \
      emu_kernel<&name>::is_pointer,                                                         \
      emu_kernel<&name>::size,                                                               \
      &emu_kernel<&name>::entry};

#endif /* EMU_ABI_ONLY */
#endif /* ORDERMERGE_CUDA_EMU_H */
