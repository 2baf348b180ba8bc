// cublas_test.cpp: the fake cuBLAS against a naive column-major reference written here in
// double precision, against hand-worked rounding cases, and against the compiler's own
// _Float16 conversions.
#include <pthread.h>

#include "check.h"

using namespace check;

namespace {

struct Handle {
  cublasHandle_t h = nullptr;
  Handle() {
    context();
    if (cublasCreate_v2(&h) != 0) {
      printf("cublasCreate_v2: %s\n", emuLastError());
      exit(2);
    }
  }
  ~Handle() { cublasDestroy_v2(h); }
  operator cublasHandle_t() const { return h; }
};

// A deterministic pseudo-random sequence.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  float next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return float(int((s >> 33) % 2001) - 1000) / 256.0f;
  }
};

// ref is C = alpha op(A) op(B) + beta C in double precision, column-major: the reference
// the products are checked against. bound receives, per element, sum |a||b| + |beta c|.
void ref(int ta, int tb, int m, int n, int k, double alpha, const std::vector<float>& A, int lda,
         const std::vector<float>& B, int ldb, double beta, std::vector<double>& C, int ldc, std::vector<double>& bound) {
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++) {
      double s = 0, mag = 0;
      for (int l = 0; l < k; l++) {
        double a = ta == CUBLAS_OP_N ? A[size_t(i + l * lda)] : A[size_t(l + i * lda)];
        double b = tb == CUBLAS_OP_N ? B[size_t(l + j * ldb)] : B[size_t(j + l * ldb)];
        s += a * b;
        mag += fabs(a * b);
      }
      double c = beta == 0 ? 0 : beta * C[size_t(i + j * ldc)];
      C[size_t(i + j * ldc)] = alpha * s + c;
      bound[size_t(i + j * ldc)] = fabs(alpha) * mag + fabs(c);
    }
}

// nearest rounds x to the nearest of the floats whose mantissa keeps the top keep bits,
// ties to even, by comparing distances (not by bit tricks).
float nearest(float x, int keep) {
  if (!isfinite(x) || x == 0) return x;
  int e;
  frexpf(fabsf(x), &e);  // |x| = f * 2^e, f in [0.5, 1)
  double ulp = ldexp(1.0, e - 1 - keep);
  double lo = floor(double(fabsf(x)) / ulp) * ulp, hi = lo + ulp;
  double d = double(fabsf(x));
  double r;
  if (d - lo < hi - d) r = lo;
  else if (hi - d < d - lo) r = hi;
  else r = fmod(lo / ulp, 2.0) == 0 ? lo : hi;
  return float(x < 0 ? -r : r);
}

uint16_t bf16_of(float x) {  // exact for values representable in bf16
  return uint16_t(bits(x) >> 16);
}

float from_bf16(uint16_t h) { return from_bits(uint32_t(h) << 16); }

uint16_t f16_bits(_Float16 h) {
  uint16_t u;
  memcpy(&u, &h, 2);
  return u;
}

_Float16 f16_from(uint16_t u) {
  _Float16 h;
  memcpy(&h, &u, 2);
  return h;
}

// gemm1 runs one f32 product through cublasSgemm_v2 and returns C.
std::vector<float> sgemm(cublasHandle_t h, int ta, int tb, int m, int n, int k, float alpha, const std::vector<float>& A,
                         int lda, const std::vector<float>& B, int ldb, float beta, const std::vector<float>& C, int ldc,
                         int* status) {
  Buf<float> a(A), b(B), c(C);
  *status = cublasSgemm_v2(h, ta, tb, m, n, k, &alpha, a.host(), lda, b.host(), ldb, &beta, c.host(), ldc);
  return c.get();
}

}  // namespace

TEST(handles_and_modes) {
  Handle h;
  int v = 0;
  OK(cublasGetVersion_v2(h, &v));
  CHECK(v >= 110000, "version %d", v);
  int mode = -1;
  OK(cublasGetMathMode(h, &mode));
  CHECK(mode == CUBLAS_DEFAULT_MATH, "default math mode %d", mode);
  OK(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH));
  OK(cublasGetMathMode(h, &mode));
  CHECK(mode == CUBLAS_TF32_TENSOR_OP_MATH, "math mode %d", mode);
  OK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
  EXPECT_CODE(cublasSetMathMode(h, 7), CUBLAS_STATUS_INVALID_VALUE, "math mode 7");
  OK(cublasSetStream_v2(h, nullptr));
  EXPECT_CODE(cublasSetStream_v2(h, reinterpret_cast<CUstream>(0x77)), CUBLAS_STATUS_INVALID_VALUE, "stream");
  OK(cublasSetPointerMode_v2(h, CUBLAS_POINTER_MODE_HOST));
  OK(cublasGetPointerMode_v2(h, &mode));
  CHECK(mode == CUBLAS_POINTER_MODE_HOST, "pointer mode %d", mode);
  EXPECT_CODE(cublasSetPointerMode_v2(h, CUBLAS_POINTER_MODE_DEVICE), CUBLAS_STATUS_NOT_SUPPORTED, "host pointers");
  Buf<char> ws(1 << 20);
  OK(cublasSetWorkspace_v2(h, ws.host(), 1 << 20));
  EXPECT_CODE(cublasSetWorkspace_v2(h, ws.host(), (1 << 20) + 1), CUBLAS_STATUS_INVALID_VALUE, "past the end");
  OK(cublasSetWorkspace_v2(h, nullptr, 0));
  CHECK(strcmp(cublasGetStatusName(CUBLAS_STATUS_INVALID_VALUE), "CUBLAS_STATUS_INVALID_VALUE") == 0, "status name");
  CHECK(strstr(cublasGetStatusString(CUBLAS_STATUS_NOT_SUPPORTED), "not supported") != nullptr, "status string %s",
        cublasGetStatusString(CUBLAS_STATUS_NOT_SUPPORTED));
  cublasHandle_t dead;
  OK(cublasCreate_v2(&dead));
  OK(cublasDestroy_v2(dead));
  EXPECT_CODE(cublasDestroy_v2(dead), CUBLAS_STATUS_NOT_INITIALIZED);
  float one = 1;
  EXPECT_CODE(cublasSgemm_v2(dead, 0, 0, 1, 1, 1, &one, nullptr, 1, nullptr, 1, &one, nullptr, 1),
              CUBLAS_STATUS_NOT_INITIALIZED, "cublasCreate");
}

TEST(sgemm_transposes_and_leading_dimensions) {
  Handle h;
  Rng rng(1);
  struct {
    int m, n, k;
  } shapes[] = {{5, 7, 3}, {33, 17, 29}, {1, 1, 1}, {64, 2, 40}};
  int ops[] = {CUBLAS_OP_N, CUBLAS_OP_T, CUBLAS_OP_C};
  for (auto s : shapes)
    for (int ta : ops)
      for (int tb : ops) {
        int ar = ta == CUBLAS_OP_N ? s.m : s.k, ac = ta == CUBLAS_OP_N ? s.k : s.m;
        int br = tb == CUBLAS_OP_N ? s.k : s.n, bc = tb == CUBLAS_OP_N ? s.n : s.k;
        int lda = ar + 3, ldb = br + 1, ldc = s.m + 2;  // leading dimensions larger than the rows
        std::vector<float> A(size_t(lda * ac)), B(size_t(ldb * bc)), C(size_t(ldc * s.n));
        for (float& x : A) x = rng.next();
        for (float& x : B) x = rng.next();
        for (float& x : C) x = rng.next();
        std::vector<double> want(C.begin(), C.end()), bound(C.size());
        ref(ta, tb, s.m, s.n, s.k, 1.5, A, lda, B, ldb, 0.25, want, ldc, bound);
        int st;
        std::vector<float> got = sgemm(h, ta, tb, s.m, s.n, s.k, 1.5f, A, lda, B, ldb, 0.25f, C, ldc, &st);
        CHECK(st == 0, "status %d: %s", st, emuLastError());
        int bad = 0;
        for (int j = 0; j < s.n; j++)
          for (int i = 0; i < ldc; i++) {
            size_t x = size_t(i + j * ldc);
            if (i >= s.m) {
              bad += bits(got[x]) != bits(C[x]);  // rows past m are not touched
              continue;
            }
            double tol = 1e-6 * bound[x] + 1e-30;
            if (fabs(double(got[x]) - want[x]) > tol) {
              if (bad++ < 3)
                printf("    %dx%dx%d ta %d tb %d: C(%d,%d) = %.9g, want %.9g\n", s.m, s.n, s.k, ta, tb, i, j, got[x],
                       want[x]);
            }
          }
        CHECK(bad == 0, "%dx%dx%d ta %d tb %d: %d wrong elements", s.m, s.n, s.k, ta, tb, bad);
      }
}

TEST(sgemm_exact_and_beta_zero) {
  Handle h;
  // Small integers multiply and add exactly: the result must equal the reference bit for bit.
  int m = 4, n = 3, k = 5;
  std::vector<float> A(size_t(m * k)), B(size_t(k * n)), C(size_t(m * n), NAN);
  for (int i = 0; i < m * k; i++) A[size_t(i)] = float(i % 5 - 2);
  for (int i = 0; i < k * n; i++) B[size_t(i)] = float(i % 3 + 1);
  std::vector<double> want(C.size(), 0.0), bound(C.size());
  ref(CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, 2.0, A, m, B, k, 0.0, want, m, bound);
  int st;
  // beta == 0: C is not read, so the NaN in it does not matter.
  std::vector<float> got = sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, 2.0f, A, m, B, k, 0.0f, C, m, &st);
  CHECK(st == 0, "status %d", st);
  for (size_t i = 0; i < got.size(); i++) CHECK(got[i] == float(want[i]), "C[%zu] = %g, want %g", i, got[i], want[i]);
  // alpha == 0: A and B are not read either; C = beta C.
  std::vector<float> nanA(A.size(), NAN), C2(C.size(), 3.0f);
  got = sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, 0.0f, nanA, m, B, k, 0.5f, C2, m, &st);
  CHECK(st == 0 && got[0] == 1.5f && got.back() == 1.5f, "alpha 0: %g (status %d)", got[0], st);
  // k == 0: C = beta C.
  got = sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, 0, 1.0f, A, m, B, 1, 2.0f, C2, m, &st);
  CHECK(st == 0 && got[0] == 6.0f, "k 0: %g (status %d)", got[0], st);
  // m == 0 returns at once, even with no matrices.
  float one = 1;
  OK(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 0, 3, 3, &one, nullptr, 1, nullptr, 3, &one, nullptr, 1));
}

TEST(sgemm_argument_errors) {
  Handle h;
  float one = 1, zero = 0;
  Buf<float> a(64), b(64), c(64);
  float *A = a.host(), *B = b.host(), *C = c.host();
  EXPECT_CODE(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, A, 3, B, 4, &zero, C, 4),
              CUBLAS_STATUS_INVALID_VALUE, "lda 3", "rows of A");
  EXPECT_CODE(cublasSgemm_v2(h, CUBLAS_OP_T, CUBLAS_OP_N, 4, 4, 5, &one, A, 4, B, 5, &zero, C, 4),
              CUBLAS_STATUS_INVALID_VALUE, "lda 4", "5 rows of A");
  EXPECT_CODE(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_T, 4, 6, 4, &one, A, 4, B, 5, &zero, C, 4),
              CUBLAS_STATUS_INVALID_VALUE, "ldb 5", "6 rows of B");
  EXPECT_CODE(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, A, 4, B, 4, &zero, C, 3),
              CUBLAS_STATUS_INVALID_VALUE, "ldc 3");
  EXPECT_CODE(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, -1, 4, 4, &one, A, 4, B, 4, &zero, C, 4),
              CUBLAS_STATUS_INVALID_VALUE, "negative");
  EXPECT_CODE(cublasSgemm_v2(h, 9, CUBLAS_OP_N, 4, 4, 4, &one, A, 4, B, 4, &zero, C, 4), CUBLAS_STATUS_INVALID_VALUE,
              "transa 9");
  EXPECT_CODE(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, nullptr, A, 4, B, 4, &zero, C, 4),
              CUBLAS_STATUS_INVALID_VALUE, "alpha");
  // Matrices must lie inside one device allocation.
  EXPECT_CODE(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 9, 8, 7, &one, A, 9, B, 7, &zero, C, 9),
              CUBLAS_STATUS_INVALID_VALUE, "C (9 x 8, ld 9)", "past the end of allocation");
  EXPECT_CODE(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, A + 60, 4, B, 4, &zero, C, 4),
              CUBLAS_STATUS_INVALID_VALUE, "A (4 x 4, ld 4)");
  std::vector<float> host(64);
  EXPECT_CODE(cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, A, 4, host.data(), 4, &zero, C, 4),
              CUBLAS_STATUS_INVALID_VALUE, "B (4 x 4, ld 4)", "not inside any device allocation");
  // A refused product wrote nothing.
  std::vector<float> got = c.get();
  bool untouched = true;
  for (float x : got) untouched = untouched && bits(x) == 0xffffffffu;
  CHECK(untouched, "C changed");
}

TEST(tf32_rounding) {
  Handle h;
  // 1x1x1 products A*B with B = 1: the result is A as the compute type rounded it.
  float cases[][2] = {
      {1.0f + 0x1p-11f, 1.0f},                   // halfway between 1 and 1+2^-10: to even (1)
      {1.0f + 3 * 0x1p-11f, 1.0f + 0x1p-9f},     // halfway between 1+2^-10 and 1+2^-9: to even
      {1.0f + 0x1p-11f + 0x1p-20f, 1.0f + 0x1p-10f},  // above halfway: up
      {-(3.0f + 0x1p-10f), -3.0f},               // 3+2^-10 is halfway at exponent 1: to even (3)
      {0x1p-130f * 1.5f, 0x1p-130f * 1.5f},      // a subnormal with few bits stays
  };
  for (auto c : cases) {
    CHECK(nearest(c[0], 10) == c[1], "reference rounding of %a: %a", c[0], nearest(c[0], 10));
    int st;
    std::vector<float> A = {c[0]}, B = {1.0f}, C = {0.0f};
    OK(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH));
    std::vector<float> got = sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, 1.0f, A, 1, B, 1, 0.0f, C, 1, &st);
    CHECK(st == 0 && got[0] == c[1], "Sgemm in TF32 mode: %a -> %a, want %a", c[0], got[0], c[1]);
    OK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    got = sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, 1.0f, A, 1, B, 1, 0.0f, C, 1, &st);
    CHECK(st == 0 && got[0] == c[0], "Sgemm in default mode: %a -> %a", c[0], got[0]);
  }
  // Random values: every input rounded to 10 mantissa bits, then exact products.
  Rng rng(7);
  int m = 6, n = 5, k = 9;
  std::vector<float> A(size_t(m * k)), B(size_t(k * n)), C(size_t(m * n), NAN);
  for (float& x : A) x = rng.next() * 1.001f;
  for (float& x : B) x = rng.next() * 0.999f;
  std::vector<float> Ar(A), Br(B);
  for (float& x : Ar) x = nearest(x, 10);
  for (float& x : Br) x = nearest(x, 10);
  std::vector<double> want(C.size(), 0.0), bound(C.size());
  ref(CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, 1.0, Ar, m, Br, k, 0.0, want, m, bound);
  Buf<float> a(A), b(B), c(C);
  float one = 1, zero = 0;
  OK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, a.host(), CUDA_R_32F, m, b.host(), CUDA_R_32F, k, &zero,
                  c.host(), CUDA_R_32F, m, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT));
  std::vector<float> got = c.get();
  for (size_t i = 0; i < got.size(); i++)
    CHECK(fabs(got[i] - want[i]) <= 1e-6 * bound[i], "FAST_TF32 C[%zu] = %.9g, want %.9g", i, got[i], want[i]);
  // COMPUTE_32F follows the math mode; PEDANTIC never rounds.
  std::vector<float> one_case = {1.0f + 0x1p-11f};
  Buf<float> a1(one_case), b1(std::vector<float>{1.0f}), c1(1);
  OK(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH));
  OK(cublasGemmEx(h, 0, 0, 1, 1, 1, &one, a1.host(), CUDA_R_32F, 1, b1.host(), CUDA_R_32F, 1, &zero, c1.host(),
                  CUDA_R_32F, 1, CUBLAS_COMPUTE_32F, 0));
  CHECK(c1.get()[0] == 1.0f, "COMPUTE_32F in TF32 mode: %a", c1.get()[0]);
  OK(cublasGemmEx(h, 0, 0, 1, 1, 1, &one, a1.host(), CUDA_R_32F, 1, b1.host(), CUDA_R_32F, 1, &zero, c1.host(),
                  CUDA_R_32F, 1, CUBLAS_COMPUTE_32F_PEDANTIC, 0));
  CHECK(c1.get()[0] == one_case[0], "PEDANTIC in TF32 mode: %a", c1.get()[0]);
  OK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
  OK(cublasGemmEx(h, 0, 0, 1, 1, 1, &one, a1.host(), CUDA_R_32F, 1, b1.host(), CUDA_R_32F, 1, &zero, c1.host(),
                  CUDA_R_32F, 1, CUBLAS_COMPUTE_32F, 0));
  CHECK(c1.get()[0] == one_case[0], "COMPUTE_32F in default mode: %a", c1.get()[0]);
}

TEST(bf16_products) {
  Handle h;
  float one = 1, zero = 0;
  // Products of bf16 inputs are exact: (1+2^-7)^2 = 1 + 2^-6 + 2^-14 needs 15 bits.
  std::vector<uint16_t> a = {bf16_of(1.0f + 0x1p-7f)}, b = {bf16_of(1.0f + 0x1p-7f)};
  Buf<uint16_t> da(a), db(b);
  Buf<float> cf(1);
  OK(cublasGemmEx(h, 0, 0, 1, 1, 1, &one, da.host(), CUDA_R_16BF, 1, db.host(), CUDA_R_16BF, 1, &zero, cf.host(),
                  CUDA_R_32F, 1, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT_TENSOR_OP));
  CHECK(cf.get()[0] == 1.0f + 0x1p-6f + 0x1p-14f, "bf16 product: %a", cf.get()[0]);
  // C in bf16 is rounded to nearest even: sums of [1, 1] . [1, x] = 1 + x.
  float xs[][2] = {{0x1p-8f, 1.0f},                    // halfway between 1 and 1+2^-7: to even (1)
                   {3 * 0x1p-8f, 1.0f + 0x1p-6f},      // halfway between 1+2^-7 and 1+2^-6: to even
                   {0x1p-8f + 0x1p-15f, 1.0f + 0x1p-7f},  // above halfway: up
                   {0x1p-9f, 1.0f}};
  for (auto x : xs) {
    std::vector<uint16_t> A = {bf16_of(1.0f), bf16_of(1.0f)}, B = {bf16_of(1.0f), bf16_of(x[0])};
    CHECK(from_bf16(B[1]) == x[0], "%a is not a bf16", x[0]);
    Buf<uint16_t> dA(A), dB(B), dC(1);
    OK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 2, &one, dA.host(), CUDA_R_16BF, 1, dB.host(), CUDA_R_16BF, 2,
                    &zero, dC.host(), CUDA_R_16BF, 1, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    float got = from_bf16(dC.get()[0]);
    CHECK(got == x[1] && nearest(1.0f + x[0], 7) == x[1], "1 + %a in bf16: %a, want %a", x[0], got, x[1]);
  }
  // A larger product with bf16 inputs and both output types, against the reference.
  Rng rng(3);
  int m = 7, n = 9, k = 13;
  std::vector<uint16_t> A(size_t(k * m)), B(size_t(k * n));
  std::vector<float> Af(A.size()), Bf(B.size());
  for (size_t i = 0; i < A.size(); i++) A[i] = bf16_of(nearest(rng.next(), 7)), Af[i] = from_bf16(A[i]);
  for (size_t i = 0; i < B.size(); i++) B[i] = bf16_of(nearest(rng.next(), 7)), Bf[i] = from_bf16(B[i]);
  std::vector<double> want(size_t(m * n), 0.0), bound(want.size());
  ref(CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, 1.0, Af, k, Bf, k, 0.0, want, m, bound);
  Buf<uint16_t> dA(A), dB(B), dC16(size_t(m * n));
  Buf<float> dC32(size_t(m * n));
  OK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, dA.host(), CUDA_R_16BF, k, dB.host(), CUDA_R_16BF, k,
                  &zero, dC32.host(), CUDA_R_32F, m, CUBLAS_COMPUTE_32F, 0));
  OK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, dA.host(), CUDA_R_16BF, k, dB.host(), CUDA_R_16BF, k,
                  &zero, dC16.host(), CUDA_R_16BF, m, CUBLAS_COMPUTE_32F, 0));
  std::vector<float> c32 = dC32.get();
  std::vector<uint16_t> c16 = dC16.get();
  for (size_t i = 0; i < c32.size(); i++) {
    CHECK(fabs(c32[i] - want[i]) <= 1e-6 * bound[i], "C32[%zu] = %.9g, want %.9g", i, c32[i], want[i]);
    CHECK(from_bf16(c16[i]) == nearest(c32[i], 7), "C16[%zu] = %a, want %a", i, from_bf16(c16[i]),
          nearest(c32[i], 7));
  }
  // FAST_16BF rounds float32 inputs to bf16 first.
  std::vector<float> x = {1.0f + 0x1p-9f + 0x1p-20f};
  Buf<float> dx(x), done(std::vector<float>{1.0f}), dc(1);
  OK(cublasGemmEx(h, 0, 0, 1, 1, 1, &one, dx.host(), CUDA_R_32F, 1, done.host(), CUDA_R_32F, 1, &zero, dc.host(),
                  CUDA_R_32F, 1, CUBLAS_COMPUTE_32F_FAST_16BF, 0));
  CHECK(dc.get()[0] == 1.0f, "FAST_16BF: %a", dc.get()[0]);
}

TEST(f16_conversions) {
  Handle h;
  // Products of two halves are exact in float32; the result is rounded to half by the fake's
  // own conversion, checked against the compiler's _Float16.
  Rng rng(11);
  std::vector<uint16_t> A, B;
  std::vector<float> special = {65504.0f, 65519.0f, 65520.0f, 1e-8f, 6.0e-8f, 5.96e-8f, 2.98e-8f, 2.9802322e-8f,
                                6.1035156e-05f, 6.1e-05f, 0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1.0f / 3.0f};
  int n = 2000;
  for (int i = 0; i < n; i++) {
    A.push_back(uint16_t(rng.s >> 20));
    rng.next();
    B.push_back(uint16_t(rng.s >> 24));
    rng.next();
  }
  size_t total = A.size();
  Buf<uint16_t> dA(A), dB(B), dC(total);
  float one = 1, zero = 0;
  // total independent 1x1x1 products as a strided batch.
  OK(cublasGemmStridedBatchedEx(h, 0, 0, 1, 1, 1, &one, dA.host(), CUDA_R_16F, 1, 1, dB.host(), CUDA_R_16F, 1, 1, &zero,
                                dC.host(), CUDA_R_16F, 1, 1, int(total), CUBLAS_COMPUTE_32F, 0));
  std::vector<uint16_t> C = dC.get();
  int bad = 0;
  for (size_t i = 0; i < total; i++) {
    float p = float(f16_from(A[i])) * float(f16_from(B[i]));
    _Float16 want = _Float16(p);
    bool same = f16_bits(want) == C[i] || (p != p && (C[i] & 0x7c00) == 0x7c00 && (C[i] & 0x3ff));
    if (!same && bad++ < 5) printf("    %a * %a = %a: 0x%04x, want 0x%04x\n", float(f16_from(A[i])), float(f16_from(B[i])), p, C[i], f16_bits(want));
  }
  CHECK(bad == 0, "%d of %d half products rounded wrongly", bad, n);
  // FAST_16F rounds float32 inputs to half: special values through a 1x1x1 product with 1.
  for (float s : special) {
    Buf<float> da(std::vector<float>{s}), db(std::vector<float>{1.0f}), dc(1);
    OK(cublasGemmEx(h, 0, 0, 1, 1, 1, &one, da.host(), CUDA_R_32F, 1, db.host(), CUDA_R_32F, 1, &zero, dc.host(),
                    CUDA_R_32F, 1, CUBLAS_COMPUTE_32F_FAST_16F, 0));
    float want = float(_Float16(s)), got = dc.get()[0];
    // (The sign of a zero sum is not specified: -0 becomes 0 + -0 = +0 in the accumulator.)
    CHECK(got == want || (isnan(got) && isnan(want)), "FAST_16F of %a: %a, want %a", s, got, want);
  }
}

TEST(strided_batches) {
  Handle h;
  Rng rng(5);
  int m = 4, n = 3, k = 5, batch = 3;
  long long sa = m * k + 5, sb = 0, sc = m * n + 2;  // gaps between A's and C's; B shared
  std::vector<float> A(size_t(sa * batch)), B(size_t(k * n)), C(size_t(sc * batch));
  for (float& x : A) x = rng.next();
  for (float& x : B) x = rng.next();
  for (float& x : C) x = rng.next();
  Buf<float> dA(A), dB(B), dC(C);
  float alpha = 0.75f, beta = -1.0f;
  OK(cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, dA.host(), CUDA_R_32F, m, sa, dB.host(),
                                CUDA_R_32F, k, sb, &beta, dC.host(), CUDA_R_32F, m, sc, batch, CUBLAS_COMPUTE_32F, 0));
  std::vector<float> got = dC.get();
  for (int b = 0; b < batch; b++) {
    std::vector<float> Ab(A.begin() + b * sa, A.begin() + b * sa + m * k);
    std::vector<double> want(C.begin() + b * sc, C.begin() + b * sc + m * n), bound(want.size());
    ref(CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, alpha, Ab, m, B, k, beta, want, m, bound);
    for (int i = 0; i < m * n; i++) {
      float g = got[size_t(b * sc + i)];
      CHECK(fabs(g - want[size_t(i)]) <= 1e-6 * bound[size_t(i)], "batch %d C[%d] = %g, want %g", b, i, g, want[size_t(i)]);
    }
    for (long long i = m * n; i < sc; i++)
      CHECK(got[size_t(b * sc + i)] == C[size_t(b * sc + i)], "batch %d: the gap after C changed", b);
  }
  // The batches must fit the allocation: one stride more does not.
  EXPECT_CODE(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &alpha, dA.host(), CUDA_R_32F, m, sa, dB.host(), CUDA_R_32F,
                                         k, sb, &beta, dC.host(), CUDA_R_32F, m, sc, batch + 1, CUBLAS_COMPUTE_32F, 0),
              CUBLAS_STATUS_INVALID_VALUE, "4 batches", "past the end");
  EXPECT_CODE(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &alpha, dA.host(), CUDA_R_32F, m, sa, dB.host(), CUDA_R_32F,
                                         k, sb, &beta, dC.host(), CUDA_R_32F, m, sc, -1, CUBLAS_COMPUTE_32F, 0),
              CUBLAS_STATUS_INVALID_VALUE, "batch -1");
  OK(cublasGemmStridedBatchedEx(h, 0, 0, m, n, k, &alpha, dA.host(), CUDA_R_32F, m, sa, dB.host(), CUDA_R_32F, k, sb,
                                &beta, dC.host(), CUDA_R_32F, m, sc, 0, CUBLAS_COMPUTE_32F, 0));
}

TEST(unsupported_types) {
  Handle h;
  float one = 1, zero = 0;
  Buf<float> a(16), b(16), c(16);
  EXPECT_CODE(cublasGemmEx(h, 0, 0, 2, 2, 2, &one, a.host(), CUDA_R_16BF, 2, b.host(), CUDA_R_32F, 2, &zero, c.host(),
                           CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, 0),
              CUBLAS_STATUS_NOT_SUPPORTED, "CUDA_R_16BF", "CUDA_R_32F");
  EXPECT_CODE(cublasGemmEx(h, 0, 0, 2, 2, 2, &one, a.host(), CUDA_R_16BF, 2, b.host(), CUDA_R_16BF, 2, &zero, c.host(),
                           CUDA_R_32F, 2, CUBLAS_COMPUTE_32F_FAST_TF32, 0),
              CUBLAS_STATUS_NOT_SUPPORTED, "not a combination");
  EXPECT_CODE(cublasGemmEx(h, 0, 0, 2, 2, 2, &one, a.host(), CUDA_R_32F, 2, b.host(), CUDA_R_32F, 2, &zero, c.host(),
                           CUDA_R_32F, 2, CUBLAS_COMPUTE_64F, 0),
              CUBLAS_STATUS_NOT_SUPPORTED, "compute type 70");
  EXPECT_CODE(cublasGemmEx(h, 0, 0, 2, 2, 2, &one, a.host(), CUDA_R_16F, 2, b.host(), CUDA_R_16F, 2, &zero, c.host(),
                           CUDA_R_16BF, 2, CUBLAS_COMPUTE_32F, 0),
              CUBLAS_STATUS_NOT_SUPPORTED, "CUDA_R_16F");
}

namespace {

struct Worker {
  CUcontext ctx;
  CUfunction add;
  int bad = 0;
};

// work runs products and kernel launches on its own OS thread, with its own handle.
void* work(void* arg) {
  Worker* w = static_cast<Worker*>(arg);
  if (cuCtxSetCurrent(w->ctx) != 0) {
    w->bad = -1;
    return nullptr;
  }
  cublasHandle_t h;
  if (cublasCreate_v2(&h) != 0) {
    w->bad = -2;
    return nullptr;
  }
  int n = 256;
  std::vector<float> a(256), b(256, 1.0f);
  for (int i = 0; i < 256; i++) a[size_t(i)] = float(i);
  Buf<float> da(a), db(b), dc(256), m(16 * 16);
  float one = 1, zero = 0;
  for (int it = 0; it < 30; it++) {
    void* args[] = {&dc.p, &da.p, &db.p, &n};
    if (cuLaunchKernel(w->add, 1, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr) != 0) w->bad++;
    // m = a (16x16) * b (16x16 of ones): every column of m is the row sums of a.
    if (cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 16, 16, 16, &one, da.host(), 16, db.host(), 16, &zero, m.host(),
                       16) != 0)
      w->bad++;
  }
  std::vector<float> c = dc.get(), mm = m.get();
  for (int i = 0; i < 256; i++) w->bad += c[size_t(i)] != float(i) + 1.0f;
  for (int i = 0; i < 16; i++) {
    float rs = 0;
    for (int l = 0; l < 16; l++) rs += float(i + 16 * l);
    w->bad += mm[size_t(i)] != rs || mm[size_t(i + 16 * 15)] != rs;
  }
  cublasDestroy_v2(h);
  return nullptr;
}

}  // namespace

TEST(threads) {
  CUcontext ctx = context();
  CUmodule mod = module("kernels.cu");
  Worker w[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    w[i].ctx = ctx;
    w[i].add = function(mod, "vec_add");
    pthread_create(&t[i], nullptr, work, &w[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], nullptr);
    CHECK(w[i].bad == 0, "thread %d: %d wrong results or failed calls (%s)", i, w[i].bad, emuLastError());
  }
  OK(cuModuleUnload(mod));
}

TEST(sticky_context) {
  Handle h;
  // After a failed launch the context is unusable for cuBLAS too.
  CUmodule m = module("faults.cu");
  Buf<float> out(64), a(4);
  int block = 0, thread = 0;
  void* args[] = {&out.p, &block, &thread};
  CUfunction trap;
  OK(cuModuleGetFunction(&trap, m, "trap_at"));
  CHECK(cuLaunchKernel(trap, 1, 1, 1, 32, 1, 1, 0, nullptr, args, nullptr) == CUDA_ERROR_LAUNCH_FAILED, "no trap");
  float one = 1, zero = 0;
  EXPECT_CODE(cublasSgemm_v2(h, 0, 0, 2, 2, 1, &one, a.host(), 2, a.host(), 1, &zero, a.host(), 2),
              CUBLAS_STATUS_EXECUTION_FAILED, "unusable", "__trap()");
  reset();
}

TEST_MAIN()
