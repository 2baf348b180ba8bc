// cublas.cpp: the fake cuBLAS: matrix products on the CPU with cuBLAS's column-major
// conventions, argument checks and precisions. Inputs are widened to float32 exactly (bf16,
// fp16), or rounded first as the compute type says (TF32: 10 mantissa bits; the FAST_16BF and
// FAST_16F compute types: bf16 or fp16), all to nearest even; products and sums are float32
// (a product of two rounded inputs is exact in float32, as on tensor cores), summed in order
// of k; C is written in its own type, rounded to nearest even. alpha and beta are host
// pointers; beta == 0 ignores C (NaN there included). Pointers are checked against the fake
// driver's allocations. Link with the fake libcuda.so.1.
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "emu_hooks.h"

namespace {

struct Handle {
  CUstream stream = nullptr;
  int math = CUBLAS_DEFAULT_MATH;
  int pointer_mode = CUBLAS_POINTER_MODE_HOST;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
};

std::mutex& handles_mu() {
  static std::mutex* m = new std::mutex;
  return *m;
}

std::set<Handle*>& handles() {
  static std::set<Handle*>* s = new std::set<Handle*>;
  return *s;
}

const char* status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

cublasStatus_t fail(const char* api, cublasStatus_t s, const std::string& msg) {
  std::string text = std::string(api) + ": " + msg + " (" + status_name(s) + ")";
  emuInternalSetLastError(text.c_str());
  return s;
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

Handle* live(cublasHandle_t h) {
  std::lock_guard<std::mutex> g(handles_mu());
  Handle* p = reinterpret_cast<Handle*>(h);
  return handles().count(p) ? p : nullptr;
}

// ---- Number formats.

uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

uint16_t to_bf16(float f) {
  uint32_t u = bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

float bf16_to_float(uint16_t h) { return from_bits(uint32_t(h) << 16); }

// round_mantissa rounds f to nearest even keeping the top keep of float32's 23 mantissa bits
// (TF32: 10), with the exponent range of float32.
float round_mantissa(float f, int keep) {
  uint32_t u = bits(f);
  if ((u & 0x7f800000u) == 0x7f800000u) return f;  // Inf, NaN
  int drop = 23 - keep;
  uint32_t half = 1u << (drop - 1);
  u += (half - 1) + ((u >> drop) & 1u);
  u &= ~((1u << drop) - 1);
  return from_bits(u);
}

uint16_t to_f16(float f) {
  uint32_t x = bits(f);
  uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return uint16_t(sign | 0x7e00u);  // NaN
  if (x >= 0x47800000u) return uint16_t(sign | 0x7c00u);  // >= 65536: Inf (65520 and up round there below)
  if (x < 0x38800000u) {                                 // below 2^-14: a subnormal half, or 0
    uint32_t e = x >> 23;
    if (e < 102) return sign;  // below 2^-25: rounds to 0
    uint32_t mant = (x & 0x7fffffu) | 0x800000u;
    int shift = int(126 - e);
    uint32_t r = mant >> shift, rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (r & 1u))) r++;
    return uint16_t(sign | r);
  }
  uint32_t h = ((x >> 23) - 112) << 10 | ((x >> 13) & 0x3ffu);
  uint32_t rem = x & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;  // may carry into the exponent, up to Inf
  return uint16_t(sign | h);
}

float f16_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return from_bits(sign | 0x7f800000u | (m << 13));
  if (e == 0) {
    if (m == 0) return from_bits(sign);
    float v = ldexpf(float(m), -24);
    return sign ? -v : v;
  }
  return from_bits(sign | ((e + 112) << 23) | (m << 13));
}

size_t type_size(int t) { return t == CUDA_R_32F ? 4 : 2; }

const char* type_name(int t) {
  switch (t) {
    case CUDA_R_32F: return "CUDA_R_32F";
    case CUDA_R_16F: return "CUDA_R_16F";
    case CUDA_R_16BF: return "CUDA_R_16BF";
    case CUDA_R_64F: return "CUDA_R_64F";
  }
  return "an unsupported data type";
}

float load(const void* p, int t, size_t i) {
  switch (t) {
    case CUDA_R_32F: return static_cast<const float*>(p)[i];
    case CUDA_R_16BF: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    default: return f16_to_float(static_cast<const uint16_t*>(p)[i]);
  }
}

void store(void* p, int t, size_t i, float v) {
  switch (t) {
    case CUDA_R_32F: static_cast<float*>(p)[i] = v; break;
    case CUDA_R_16BF: static_cast<uint16_t*>(p)[i] = to_bf16(v); break;
    default: static_cast<uint16_t*>(p)[i] = to_f16(v); break;
  }
}

// How inputs of type float32 are rounded before the products.
enum Round { kExact, kTF32, kBF16, kF16 };

float round_input(float v, Round r) {
  switch (r) {
    case kTF32: return round_mantissa(v, 10);
    case kBF16: return bf16_to_float(to_bf16(v));
    case kF16: return f16_to_float(to_f16(v));
    case kExact: break;
  }
  return v;
}

// ---- The product.

struct Matrix {
  const char* name;
  const void* p;
  int type;
  int ld;
  long long stride;
};

struct Gemm {
  const char* api;
  int ta, tb, m, n, k;
  float alpha, beta;
  Matrix a, b, c;
  int batch;
  Round round;  // for float32 inputs
};

// check_extent checks that every element a product touches of matrix x (rows x cols, batch
// matrices) lies in one device allocation.
bool check_extent(const Gemm& g, const Matrix& x, int rows, int cols, std::string* why) {
  long long last = (long long)(cols - 1) * x.ld + rows - 1;
  long long lo = 0, hi = last;
  if (g.batch > 1) {
    long long span = (long long)(g.batch - 1) * x.stride;
    if (span < 0) lo += span; else hi += span;
  }
  size_t es = type_size(x.type);
  const char* start = static_cast<const char*>(x.p) + lo * (long long)es;
  char buf[512];
  if (emuInternalCheckRange(start, size_t(hi - lo + 1) * es, buf, sizeof buf) == 0) return true;
  *why = fmt("%s (%d x %d, ld %d%s) is not inside one device allocation: %s", x.name, rows, cols, x.ld,
             g.batch > 1 ? fmt(", stride %lld, %d batches", x.stride, g.batch).c_str() : "", buf);
  return false;
}

void multiply(const Gemm& g, std::vector<float>& ar, std::vector<float>& bc, int batch) {
  int m = g.m, n = g.n, k = g.k;
  const char* ap = static_cast<const char*>(g.a.p) + (long long)batch * g.a.stride * (long long)type_size(g.a.type);
  const char* bp = static_cast<const char*>(g.b.p) + (long long)batch * g.b.stride * (long long)type_size(g.b.type);
  char* cp = static_cast<char*>(const_cast<void*>(g.c.p)) + (long long)batch * g.c.stride * (long long)type_size(g.c.type);
  bool products = k > 0 && g.alpha != 0.0f;  // with alpha 0, A and B are not read
  if (products) {
    Round ra = g.a.type == CUDA_R_32F ? g.round : kExact, rb = g.b.type == CUDA_R_32F ? g.round : kExact;
    // ar holds op(A) by rows, bc op(B) by columns, so both sums run along contiguous memory.
    for (int i = 0; i < m; i++)
      for (int l = 0; l < k; l++) {
        size_t idx = g.ta == CUBLAS_OP_N ? size_t(i) + size_t(l) * size_t(g.a.ld) : size_t(l) + size_t(i) * size_t(g.a.ld);
        ar[size_t(i) * size_t(k) + size_t(l)] = round_input(load(ap, g.a.type, idx), ra);
      }
    for (int j = 0; j < n; j++)
      for (int l = 0; l < k; l++) {
        size_t idx = g.tb == CUBLAS_OP_N ? size_t(l) + size_t(j) * size_t(g.b.ld) : size_t(j) + size_t(l) * size_t(g.b.ld);
        bc[size_t(j) * size_t(k) + size_t(l)] = round_input(load(bp, g.b.type, idx), rb);
      }
  }
  for (int j = 0; j < n; j++) {
    for (int i = 0; i < m; i++) {
      float acc = 0.0f;
      if (products) {
        const float* x = &ar[size_t(i) * size_t(k)];
        const float* y = &bc[size_t(j) * size_t(k)];
        for (int l = 0; l < k; l++) acc += x[l] * y[l];
      }
      float v = g.alpha * acc;
      size_t ci = size_t(i) + size_t(j) * size_t(g.c.ld);
      if (g.beta != 0.0f) v += g.beta * load(cp, g.c.type, ci);
      store(cp, g.c.type, ci, v);
    }
  }
}

cublasStatus_t run(cublasHandle_t handle, Gemm g, const float* alpha, const float* beta) {
  if (!live(handle)) return fail(g.api, CUBLAS_STATUS_NOT_INITIALIZED, "not a handle from cublasCreate");
  auto op_ok = [](int t) { return t == CUBLAS_OP_N || t == CUBLAS_OP_T || t == CUBLAS_OP_C; };
  if (!op_ok(g.ta) || !op_ok(g.tb))
    return fail(g.api, CUBLAS_STATUS_INVALID_VALUE, fmt("transa %d or transb %d is not N, T or C", g.ta, g.tb));
  if (g.m < 0 || g.n < 0 || g.k < 0 || g.batch < 0)
    return fail(g.api, CUBLAS_STATUS_INVALID_VALUE, fmt("m %d, n %d, k %d, batch %d: negative", g.m, g.n, g.k, g.batch));
  int arows = g.ta == CUBLAS_OP_N ? g.m : g.k, acols = g.ta == CUBLAS_OP_N ? g.k : g.m;
  int brows = g.tb == CUBLAS_OP_N ? g.k : g.n, bcols = g.tb == CUBLAS_OP_N ? g.n : g.k;
  if (g.a.ld < (arows > 1 ? arows : 1))
    return fail(g.api, CUBLAS_STATUS_INVALID_VALUE, fmt("lda %d is less than the %d rows of A", g.a.ld, arows));
  if (g.b.ld < (brows > 1 ? brows : 1))
    return fail(g.api, CUBLAS_STATUS_INVALID_VALUE, fmt("ldb %d is less than the %d rows of B", g.b.ld, brows));
  if (g.c.ld < (g.m > 1 ? g.m : 1))
    return fail(g.api, CUBLAS_STATUS_INVALID_VALUE, fmt("ldc %d is less than the %d rows of C", g.c.ld, g.m));
  if (!alpha || !beta) return fail(g.api, CUBLAS_STATUS_INVALID_VALUE, "alpha or beta is NULL");
  if (g.m == 0 || g.n == 0 || g.batch == 0) return CUBLAS_STATUS_SUCCESS;
  char why[1024];
  int r = emuInternalBegin(why, sizeof why);
  if (r != CUDA_SUCCESS) {
    emuInternalEnd();
    return fail(g.api, r == CUDA_ERROR_NOT_INITIALIZED ? CUBLAS_STATUS_NOT_INITIALIZED : CUBLAS_STATUS_EXECUTION_FAILED,
                why);
  }
  g.alpha = *alpha;
  g.beta = *beta;
  std::string bad;
  bool ok = check_extent(g, g.c, g.m, g.n, &bad);
  if (ok && g.k > 0 && g.alpha != 0.0f) ok = check_extent(g, g.a, arows, acols, &bad) && check_extent(g, g.b, brows, bcols, &bad);
  if (!ok) {
    emuInternalEnd();
    return fail(g.api, CUBLAS_STATUS_INVALID_VALUE, fmt("m %d, n %d, k %d: %s", g.m, g.n, g.k, bad.c_str()));
  }
  std::vector<float> ar(size_t(g.m) * size_t(g.k)), bc(size_t(g.n) * size_t(g.k));
  for (int i = 0; i < g.batch; i++) multiply(g, ar, bc, i);
  emuInternalEnd();
  return CUBLAS_STATUS_SUCCESS;
}

// ex_round picks the input rounding of a GemmEx product, or returns false if cuBLAS does not
// support the combination of types.
bool ex_round(Handle* h, int at, int bt, int ct, int compute, Round* r, std::string* why) {
  bool f32 = at == CUDA_R_32F && bt == CUDA_R_32F && ct == CUDA_R_32F;
  switch (compute) {
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC: {
      bool half = (at == CUDA_R_16BF || at == CUDA_R_16F) && bt == at && (ct == at || ct == CUDA_R_32F);
      if (!f32 && !half) break;
      // CUBLAS_COMPUTE_32F with float32 inputs follows the handle's math mode (TF32 when set).
      *r = f32 && compute == CUBLAS_COMPUTE_32F && (h->math & 0xf) == CUBLAS_TF32_TENSOR_OP_MATH ? kTF32 : kExact;
      return true;
    }
    case CUBLAS_COMPUTE_32F_FAST_TF32:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_32F_FAST_16F:
      if (!f32) break;
      *r = compute == CUBLAS_COMPUTE_32F_FAST_TF32 ? kTF32 : compute == CUBLAS_COMPUTE_32F_FAST_16BF ? kBF16 : kF16;
      return true;
    default:
      *why = fmt("compute type %d is not emulated (CUBLAS_COMPUTE_32F, _32F_PEDANTIC, _32F_FAST_TF32, _32F_FAST_16BF "
                 "and _32F_FAST_16F are)",
                 compute);
      return false;
  }
  *why = fmt("A %s, B %s, C %s with compute type %d is not a combination cuBLAS supports", type_name(at),
             type_name(bt), type_name(ct), compute);
  return false;
}

cublasStatus_t gemm_ex(const char* api, cublasHandle_t handle, int ta, int tb, int m, int n, int k, const void* alpha,
                       const void* A, int at, int lda, long long sa, const void* B, int bt, int ldb, long long sb,
                       const void* beta, void* C, int ct, int ldc, long long sc, int batch, int compute) {
  Handle* h = live(handle);
  if (!h) return fail(api, CUBLAS_STATUS_NOT_INITIALIZED, "not a handle from cublasCreate");
  Round r = kExact;
  std::string why;
  if (!ex_round(h, at, bt, ct, compute, &r, &why)) return fail(api, CUBLAS_STATUS_NOT_SUPPORTED, why);
  Gemm g{api, ta, tb, m, n, k, 0, 0, {"A", A, at, lda, sa}, {"B", B, bt, ldb, sb}, {"C", C, ct, ldc, sc}, batch, r};
  return run(handle, g, static_cast<const float*>(alpha), static_cast<const float*>(beta));
}

}  // namespace

extern "C" {

EMU_EXPORT cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (!handle) return fail("cublasCreate_v2", CUBLAS_STATUS_INVALID_VALUE, "handle is NULL");
  char why[512];
  int r = emuInternalBegin(why, sizeof why);
  emuInternalEnd();
  if (r == CUDA_ERROR_NOT_INITIALIZED) return fail("cublasCreate_v2", CUBLAS_STATUS_NOT_INITIALIZED, why);
  Handle* h = new Handle;
  std::lock_guard<std::mutex> g(handles_mu());
  handles().insert(h);
  *handle = reinterpret_cast<cublasHandle_t>(h);
  return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  std::lock_guard<std::mutex> g(handles_mu());
  Handle* h = reinterpret_cast<Handle*>(handle);
  if (!handles().erase(h)) return fail("cublasDestroy_v2", CUBLAS_STATUS_NOT_INITIALIZED, "not a live handle");
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, CUstream stream) {
  Handle* h = live(handle);
  if (!h) return fail("cublasSetStream_v2", CUBLAS_STATUS_NOT_INITIALIZED, "not a handle from cublasCreate");
  if (stream != nullptr && stream != CU_STREAM_LEGACY && stream != CU_STREAM_PER_THREAD)
    return fail("cublasSetStream_v2", CUBLAS_STATUS_INVALID_VALUE, "the emulator has only the default stream (NULL)");
  h->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasSetMathMode(cublasHandle_t handle, int mode) {
  Handle* h = live(handle);
  if (!h) return fail("cublasSetMathMode", CUBLAS_STATUS_NOT_INITIALIZED, "not a handle from cublasCreate");
  int base = mode & ~CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
  if (base < CUBLAS_DEFAULT_MATH || base > CUBLAS_TF32_TENSOR_OP_MATH)
    return fail("cublasSetMathMode", CUBLAS_STATUS_INVALID_VALUE, fmt("math mode %d", mode));
  h->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasGetMathMode(cublasHandle_t handle, int* mode) {
  Handle* h = live(handle);
  if (!h) return fail("cublasGetMathMode", CUBLAS_STATUS_NOT_INITIALIZED, "not a handle from cublasCreate");
  if (!mode) return fail("cublasGetMathMode", CUBLAS_STATUS_INVALID_VALUE, "mode is NULL");
  *mode = h->math;
  return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, int mode) {
  Handle* h = live(handle);
  if (!h) return fail("cublasSetPointerMode_v2", CUBLAS_STATUS_NOT_INITIALIZED, "not a handle from cublasCreate");
  if (mode == CUBLAS_POINTER_MODE_DEVICE)
    return fail("cublasSetPointerMode_v2", CUBLAS_STATUS_NOT_SUPPORTED,
                "the emulator takes alpha and beta as host pointers only");
  if (mode != CUBLAS_POINTER_MODE_HOST)
    return fail("cublasSetPointerMode_v2", CUBLAS_STATUS_INVALID_VALUE, fmt("pointer mode %d", mode));
  h->pointer_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasGetPointerMode_v2(cublasHandle_t handle, int* mode) {
  Handle* h = live(handle);
  if (!h) return fail("cublasGetPointerMode_v2", CUBLAS_STATUS_NOT_INITIALIZED, "not a handle from cublasCreate");
  if (!mode) return fail("cublasGetPointerMode_v2", CUBLAS_STATUS_INVALID_VALUE, "mode is NULL");
  *mode = h->pointer_mode;
  return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace, size_t bytes) {
  Handle* h = live(handle);
  if (!h) return fail("cublasSetWorkspace_v2", CUBLAS_STATUS_NOT_INITIALIZED, "not a handle from cublasCreate");
  if (bytes > 0) {
    if (!workspace) return fail("cublasSetWorkspace_v2", CUBLAS_STATUS_INVALID_VALUE, "workspace is NULL");
    char why[512];
    int r = emuInternalBegin(why, sizeof why);
    int bad = r == CUDA_SUCCESS ? emuInternalCheckRange(workspace, bytes, why, sizeof why) : 1;
    emuInternalEnd();
    if (bad) return fail("cublasSetWorkspace_v2", CUBLAS_STATUS_INVALID_VALUE, why);
  }
  h->workspace = workspace;
  h->workspace_bytes = bytes;
  return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int* version) {
  if (!live(handle)) return fail("cublasGetVersion_v2", CUBLAS_STATUS_NOT_INITIALIZED, "not a handle from cublasCreate");
  if (!version) return fail("cublasGetVersion_v2", CUBLAS_STATUS_INVALID_VALUE, "version is NULL");
  *version = 130000;  // the cuBLAS of CUDA 13.0
  return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT const char* cublasGetStatusName(cublasStatus_t status) { return status_name(status); }

EMU_EXPORT const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR: return "error detected trying to check the license";
  }
  return "unknown error";
}

EMU_EXPORT cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, int transa, int transb, int m, int n, int k,
                                         const float* alpha, const float* A, int lda, const float* B, int ldb,
                                         const float* beta, float* C, int ldc) {
  Handle* h = live(handle);
  if (!h) return fail("cublasSgemm_v2", CUBLAS_STATUS_NOT_INITIALIZED, "not a handle from cublasCreate");
  Round r = (h->math & 0xf) == CUBLAS_TF32_TENSOR_OP_MATH ? kTF32 : kExact;
  Gemm g{"cublasSgemm_v2", transa, transb, m, n, k, 0, 0, {"A", A, CUDA_R_32F, lda, 0}, {"B", B, CUDA_R_32F, ldb, 0},
         {"C", C, CUDA_R_32F, ldc, 0}, 1, r};
  return run(handle, g, alpha, beta);
}

EMU_EXPORT cublasStatus_t cublasGemmEx(cublasHandle_t handle, int transa, int transb, int m, int n, int k,
                                       const void* alpha, const void* A, int Atype, int lda, const void* B, int Btype,
                                       int ldb, const void* beta, void* C, int Ctype, int ldc, int computeType,
                                       int algo) {
  (void)algo;  // any algorithm gives the same result here
  return gemm_ex("cublasGemmEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb, 0, beta, C,
                 Ctype, ldc, 0, 1, computeType);
}

EMU_EXPORT cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, int transa, int transb, int m, int n,
                                                     int k, const void* alpha, const void* A, int Atype, int lda,
                                                     long long strideA, const void* B, int Btype, int ldb,
                                                     long long strideB, const void* beta, void* C, int Ctype, int ldc,
                                                     long long strideC, int batchCount, int computeType, int algo) {
  (void)algo;
  return gemm_ex("cublasGemmStridedBatchedEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B,
                 Btype, ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount, computeType);
}

}  // extern "C"
