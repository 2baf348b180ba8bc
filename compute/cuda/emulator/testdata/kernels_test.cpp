// kernels_test.cpp: kernels compiled by the fake NVRTC (testdata/kernels.cu, faults.cu) and
// run by the fake driver, against results computed here on the host.
#include <time.h>

#include "check.h"

using namespace check;

namespace {

// kernels is testdata/kernels.cu, loaded again after reset() destroyed the context.
CUmodule kernels() {
  static CUmodule m = nullptr;
  static int gen = -1;
  if (!m || gen != generation()) {
    m = module("kernels.cu");
    gen = generation();
  }
  return m;
}

CUfunction k(const char* name) { return function(kernels(), name); }

// line_of returns the line number of the first line containing what after the line
// containing after, in testdata/file.
int line_of(const char* file, const char* after, const char* what) {
  std::string s = read_file(testdata() + "/" + file);
  size_t a = s.find(after);
  size_t w = s.find(what, a);
  int line = 1;
  for (size_t i = 0; i < w && i < s.size(); i++) line += s[i] == '\n';
  return line;
}

bool same_float(float a, float b) { return bits(a) == bits(b) || (isnan(a) && isnan(b)); }

}  // namespace

TEST(vec_add) {
  context();
  int n = 1000;
  std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  for (int i = 0; i < n; i++) a[size_t(i)] = float(i), b[size_t(i)] = 0.25f * float(i);
  Buf<float> da(a), db(b), out(static_cast<size_t>(n));
  OK(launch(k("vec_add"), (unsigned(n) + 255) / 256, 1, 1, 256, 1, 1, 0, {&out.p, &da.p, &db.p, &n}));
  std::vector<float> got = out.get();
  int bad = 0;
  for (int i = 0; i < n; i++) bad += got[size_t(i)] != a[size_t(i)] + b[size_t(i)];
  CHECK(bad == 0, "%d wrong sums", bad);
}

TEST(geometry_2d_3d) {
  context();
  struct {
    unsigned g[3], b[3];
  } cases[] = {{{3, 2, 2}, {4, 3, 2}}, {{2, 3, 1}, {16, 8, 1}}, {{1, 1, 1}, {1024, 1, 1}}, {{2, 1, 1}, {1, 1, 64}}};
  for (auto c : cases) {
    unsigned tpb = c.b[0] * c.b[1] * c.b[2], blocks = c.g[0] * c.g[1] * c.g[2];
    Buf<unsigned> out(size_t(12) * tpb * blocks);
    OK(launch(k("geometry"), c.g[0], c.g[1], c.g[2], c.b[0], c.b[1], c.b[2], 0, {&out.p}));
    std::vector<unsigned> r = out.get();
    int bad = 0;
    for (unsigned bz = 0; bz < c.g[2]; bz++)
      for (unsigned by = 0; by < c.g[1]; by++)
        for (unsigned bx = 0; bx < c.g[0]; bx++)
          for (unsigned tz = 0; tz < c.b[2]; tz++)
            for (unsigned ty = 0; ty < c.b[1]; ty++)
              for (unsigned tx = 0; tx < c.b[0]; tx++) {
                unsigned b = bx + c.g[0] * (by + c.g[1] * bz), t = tx + c.b[0] * (ty + c.b[1] * tz);
                const unsigned* x = &r[12 * (b * tpb + t)];
                unsigned want[12] = {tx, ty, tz, bx, by, bz, c.b[0], c.b[1], c.b[2], c.g[0], c.g[1], c.g[2]};
                bad += memcmp(x, want, sizeof want) != 0;
              }
    CHECK(bad == 0, "grid (%u,%u,%u) block (%u,%u,%u): %d threads saw wrong indices", c.g[0], c.g[1], c.g[2], c.b[0],
          c.b[1], c.b[2], bad);
  }
}

// block_sums launches kernel(out, in, n) for each block size, with n = sizes*block + extra
// integer-valued inputs, and checks out[b] = the sum of block b's elements (exact).
static void block_sums(const char* kernel, std::vector<unsigned> sizes, int times, int extra, int mod) {
  for (unsigned block : sizes) {
    int n = int(block) * times + extra;
    std::vector<float> in(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) in[size_t(i)] = float((i * 37) % mod) - 2.0f;
    unsigned blocks = (unsigned(n) + block - 1) / block;
    Buf<float> din(in), out(blocks);
    OK(launch(k(kernel), blocks, 1, 1, block, 1, 1, 0, {&out.p, &din.p, &n}));
    std::vector<float> got = out.get();
    for (unsigned b = 0; b < blocks; b++) {
      double want = 0;
      for (unsigned i = b * block; i < (b + 1) * block && i < unsigned(n); i++) want += in[i];
      CHECK(got[b] == float(want), "%s, block %u of %u threads: %g, want %g", kernel, b, block, got[b], want);
    }
  }
}

TEST(shared_tree_reduction) {
  context();
  block_sums("tree_sum", {32u, 256u, 1024u}, 5, -7, 7);
}

TEST(warp_shuffle_reduction) {
  context();
  // Full warps, partial last warps, a block smaller than a warp; the second stage runs in
  // warp 0 only (inside if (warp == 0)).
  block_sums("shuffle_sum", {32u, 48u, 100u, 256u, 1000u, 1024u, 7u}, 3, -5, 11);
}

TEST(warp_operations) {
  context();
  unsigned block = 64, blocks = 2, n = block * blocks;
  std::vector<float> in(n);
  for (unsigned i = 0; i < n; i++) in[i] = float(i % 13 + 1);
  in[40] = 200.0f;  // one big value in warp 1 of block 0
  Buf<float> din(in), out(8 * n);
  OK(launch(k("warp_ops"), blocks, 1, 1, block, 1, 1, 0, {&out.p, &din.p}));
  std::vector<float> r = out.get();
  int bad = 0;
  for (unsigned t = 0; t < n; t++) {
    unsigned w = t & ~31u, lane = t & 31u, seg = t & ~7u, seg16 = t & ~15u;
    float sum = 0, scan = 0, s16 = 0;
    unsigned odd = 0;
    bool all_pos = true, any_big = false;
    for (unsigned l = 0; l < 32; l++) {
      float v = in[w + l];
      sum += v;
      if (l <= lane) scan += v;
      if ((int(v) & 1) != 0) odd |= 1u << l;
      all_pos = all_pos && v > 0;
      any_big = any_big || v > 100;
    }
    for (unsigned l = 0; l < 16; l++) s16 += in[seg16 + l];
    float want[8] = {sum, scan, in[w + 3], in[seg + 3], from_bits(odd), float(int(all_pos) * 2 + int(any_big)), s16,
                     float(__builtin_popcount(odd))};
    for (int j = 0; j < 8; j++) {
      if (!same_float(r[8 * t + unsigned(j)], want[j])) {
        if (bad++ < 5) printf("    thread %u result %d: %g, want %g\n", t, j, r[8 * t + unsigned(j)], want[j]);
      }
    }
  }
  CHECK(bad == 0, "%d wrong results", bad);
}

TEST(shuffles_partial_warp) {
  context();
  unsigned block = 40;  // warp 1 has lanes 0-7 only
  Buf<unsigned> out(3 * block);
  OK(launch(k("shuffle_int"), 1, 1, 1, block, 1, 1, 0, {&out.p}));
  std::vector<unsigned> r = out.get();
  for (unsigned t = 0; t < block; t++) {
    unsigned lanes = t < 32 ? 32 : 8, lane = t & 31, w = t & ~31u;
    CHECK(r[3 * t] == (t ^ 1) * 10, "thread %u: int xor shuffle %u", t, r[3 * t]);
    CHECK(r[3 * t + 1] == w, "thread %u: broadcast %u, want %u", t, r[3 * t + 1], w);
    // Down by 8: past the end of the 32-lane segment a lane keeps its own value; from a lane
    // that does not exist (past the end of the partial warp) it gets all one bits.
    uint32_t want = lane + 8 > 31 ? bits(float(t)) : lane + 8 >= lanes ? 0xffffffffu : bits(float(t + 8));
    CHECK(r[3 * t + 2] == want, "thread %u: shuffle down 8 gave 0x%08x, want 0x%08x", t, r[3 * t + 2], want);
  }
}

TEST(exited_lanes_do_not_take_part) {
  context();
  unsigned block = 64;
  Buf<unsigned> out(std::vector<unsigned>(3 * block, 7u));
  OK(launch(k("early_exit"), 1, 1, 1, block, 1, 1, 0, {&out.p}));
  std::vector<unsigned> r = out.get();
  for (unsigned t = 0; t < block; t++) {
    if ((t & 31) >= 16) {
      CHECK(r[3 * t] == 7u, "thread %u returned but wrote", t);
      continue;
    }
    CHECK(r[3 * t] == (t ^ 1), "thread %u: xor shuffle %u", t, r[3 * t]);
    CHECK(r[3 * t + 1] == 0xffffffffu, "thread %u: a value from a returned lane is 0x%08x, want all ones", t,
          r[3 * t + 1]);
    CHECK(r[3 * t + 2] == 0xffffu, "thread %u: ballot 0x%08x counts returned lanes", t, r[3 * t + 2]);
  }
}

TEST(dynamic_shared_memory) {
  context();
  unsigned block = 128, blocks = 3;
  std::vector<float> in(block * blocks);
  for (size_t i = 0; i < in.size(); i++) in[i] = float(i);
  Buf<float> din(in), out(in.size());
  OK(launch(k("dyn_reverse"), blocks, 1, 1, block, 1, 1, block * 4, {&out.p, &din.p}));
  std::vector<float> r = out.get();
  int bad = 0;
  for (unsigned b = 0; b < blocks; b++)
    for (unsigned t = 0; t < block; t++) bad += r[b * block + t] != in[b * block + block - 1 - t];
  CHECK(bad == 0, "%d elements not reversed", bad);
  // More than 48 KiB needs the function's limit raised first, up to 227 KiB.
  CUfunction f = k("dyn_fill");
  int words = 100 << 8;  // 100 KiB
  Buf<float> sum(2);
  EXPECT_CODE(launch(f, 2, 1, 1, 256, 1, 1, unsigned(words) * 4, {&sum.p, &words}), CUDA_ERROR_INVALID_VALUE,
              "dynamic shared memory", "49152", "CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES");
  OK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, words * 4));
  int limit = 0;
  OK(cuFuncGetAttribute(&limit, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, f));
  CHECK(limit == words * 4, "limit %d", limit);
  OK(launch(f, 2, 1, 1, 256, 1, 1, unsigned(words) * 4, {&sum.p, &words}));
  std::vector<float> s = sum.get();
  CHECK(s[0] == float(words) && s[1] == float(words), "sums %g %g, want %d", s[0], s[1], words);
  EXPECT_CODE(launch(f, 1, 1, 1, 256, 1, 1, unsigned(words) * 4 + 4, {&sum.p, &words}), CUDA_ERROR_INVALID_VALUE,
              "limit set for the kernel");
  EXPECT_CODE(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (227 << 10) + 1),
              CUDA_ERROR_INVALID_VALUE, "232448");
  EXPECT_CODE(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_NUM_REGS, 4), CUDA_ERROR_INVALID_VALUE, "cannot be set");
}

TEST(shared_memory_starts_undefined) {
  context();
  unsigned block = 64;
  Buf<unsigned> out(2 * 2 * block);
  OK(launch(k("uninit"), 2, 1, 1, block, 1, 1, block * 4, {&out.p}));
  std::vector<unsigned> r = out.get();
  for (unsigned t = 0; t < block; t++) {
    CHECK(r[2 * t] == bits(1.0f) && r[2 * t + 1] == bits(2.0f), "block 0 thread %u: 0x%08x 0x%08x", t, r[2 * t],
          r[2 * t + 1]);
    // Block 1 did not write: static and dynamic shared memory are NaN (0xFF bytes) again.
    unsigned i = 2 * (block + t);
    CHECK(r[i] == 0xffffffffu && r[i + 1] == 0xffffffffu, "block 1 thread %u: 0x%08x 0x%08x", t, r[i], r[i + 1]);
  }
}

TEST(atomics) {
  context();
  int n = 1000;
  std::vector<int> values(static_cast<size_t>(n));
  for (int i = 0; i < n; i++) values[size_t(i)] = (i * 7919) % 1009 - 300;
  Buf<int> dv(values), hist(std::vector<int>(16, 0)), mx(std::vector<int>{-1000000}), mn(std::vector<int>{1000000}),
      cas(std::vector<int>{0});
  Buf<float> fsum(std::vector<float>{0.0f});
  Buf<unsigned> usum(std::vector<unsigned>{0u});
  Buf<unsigned long long> big(std::vector<unsigned long long>{0ull});
  OK(launch(k("atomics"), (unsigned(n) + 127) / 128, 1, 1, 128, 1, 1, 0,
            {&hist.p, &fsum.p, &usum.p, &big.p, &mx.p, &mn.p, &cas.p, &dv.p, &n}));
  std::vector<int> h(16, 0);
  unsigned us = 0;
  int want_max = -1000000, want_min = 1000000;
  for (int v : values) {
    h[size_t(v & 15)]++;
    us += unsigned(v);
    want_max = v > want_max ? v : want_max;
    want_min = v < want_min ? v : want_min;
  }
  CHECK(hist.get() == h, "histogram");
  CHECK(fsum.get()[0] == 0.5f * float(n), "float sum %g", fsum.get()[0]);
  CHECK(usum.get()[0] == us, "unsigned sum %u, want %u", usum.get()[0], us);
  CHECK(big.get()[0] == (unsigned long long)n << 33, "64-bit sum %llu", big.get()[0]);
  CHECK(mx.get()[0] == want_max && mn.get()[0] == want_min, "max %d min %d, want %d %d", mx.get()[0], mn.get()[0],
        want_max, want_min);
  CHECK(cas.get()[0] == 3 * n, "CAS loop %d, want %d", cas.get()[0], 3 * n);
}

TEST(math_functions) {
  context();
  std::vector<float> in = {0.25f, 2.5f, INFINITY, NAN, 1.0f, 7.0f};
  unsigned n = unsigned(in.size());
  Buf<float> din(in), out(32 * n);
  Buf<unsigned> bits_out(n);
  OK(launch(k("math_fns"), 1, 1, 1, n, 1, 1, 0, {&out.p, &bits_out.p, &din.p}));
  std::vector<float> r = out.get();
  for (unsigned t = 0; t < n; t++) {
    float x = in[t];
    float sat = x - 1.0f > 0.0f ? (x - 1.0f < 1.0f ? x - 1.0f : 1.0f) : 0.0f;
    float want[26] = {expf(x), logf(x), log1pf(x), sqrtf(x), 1.0f / sqrtf(x), fmaxf(x, 0.5f), fminf(x, 0.5f), fabsf(x),
                      tanhf(x), sinf(x), cosf(x), powf(x, 1.5f), floorf(x), ceilf(x), erff(x), expf(x), logf(x),
                      x / 3.0f, sat, float(isnan(x) * 4 + isinf(x) * 2 + isfinite(x)), x, -2.0f + 70.0f, 7.0f,
                      fminf(x, 1.0f) + fmaxf(x, 2.0f), x, 32.0f};
    for (int j = 0; j < 26; j++)
      CHECK(same_float(r[32 * t + unsigned(j)], want[j]), "x = %g, function %d: %g, want %g", x, j,
            r[32 * t + unsigned(j)], want[j]);
  }
  CHECK(same_float(from_bits(bits_out.get()[1]), 2.5f), "__float_as_uint");
}

TEST(printf_in_kernels) {
  context();
  int v = 42;
  OK(launch(k("printer"), 2, 1, 1, 4, 1, 1, 0, {&v}));
  fflush(stdout);
}

TEST(launch_limits) {
  context();
  CUfunction f = k("fill");
  Buf<int> out(2048);
  int value = 7;
  long long n = 2048;
  std::vector<void*> args = {&out.p, &value, &n};
  EXPECT_CODE(launch(f, 1, 1, 1, 1025, 1, 1, 0, args), CUDA_ERROR_INVALID_VALUE, "block dimensions");
  EXPECT_CODE(launch(f, 1, 1, 1, 64, 32, 1, 0, args), CUDA_ERROR_INVALID_VALUE, "2048 threads per block");
  EXPECT_CODE(launch(f, 1, 1, 1, 1, 1, 65, 0, args), CUDA_ERROR_INVALID_VALUE, "block dimensions");
  EXPECT_CODE(launch(f, 1, 65536, 1, 1, 1, 1, 0, args), CUDA_ERROR_INVALID_VALUE, "grid dimensions");
  EXPECT_CODE(launch(f, 1, 1, 65536, 1, 1, 1, 0, args), CUDA_ERROR_INVALID_VALUE, "grid dimensions");
  EXPECT_CODE(launch(f, 0, 1, 1, 32, 1, 1, 0, args), CUDA_ERROR_INVALID_VALUE, "is 0");
  EXPECT_CODE(launch(f, 1, 1, 1, 32, 0, 1, 0, args), CUDA_ERROR_INVALID_VALUE, "is 0");
  EXPECT_CODE(launch(f, 1, 1, 1, 32, 1, 1, (48 << 10) + 1, args), CUDA_ERROR_INVALID_VALUE, "dynamic shared");
  void* extra[] = {nullptr};
  EXPECT_CODE(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, nullptr, args.data(), extra), CUDA_ERROR_INVALID_VALUE, "extra");
  EXPECT_CODE(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr), CUDA_ERROR_INVALID_VALUE,
              "kernelParams is NULL", "3 arguments");
  EXPECT_CODE(launch(f, 1, 1, 1, 32, 1, 1, 0, {&out.p, nullptr, &n}), CUDA_ERROR_INVALID_VALUE, "kernelParams[1]",
              "int value");
  EXPECT_CODE(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, reinterpret_cast<CUstream>(0x99), args.data(), nullptr),
              CUDA_ERROR_INVALID_HANDLE, "stream");
  // Pointer arguments must point into an allocation (or be NULL).
  int host[4];
  CUdeviceptr bogus = CUdeviceptr(uintptr_t(host));
  EXPECT_CODE(launch(f, 1, 1, 1, 32, 1, 1, 0, {&bogus, &value, &n}), CUDA_ERROR_INVALID_VALUE,
              "argument 0 (int* out)", "not inside any device allocation");
  CUdeviceptr gone;
  OK(cuMemAlloc_v2(&gone, 64));
  OK(cuMemFree_v2(gone));
  EXPECT_CODE(launch(f, 1, 1, 1, 32, 1, 1, 0, {&gone, &value, &n}), CUDA_ERROR_INVALID_VALUE, "was freed");
  // None of these is sticky; the limits themselves are fine.
  OK(launch(f, 2, 1, 1, 1024, 1, 1, 0, args));
  OK(launch(f, 1, 1, 1, 32, 32, 1, 48 << 10, args));
  OK(launch(f, 1, 65535, 1, 1, 1, 1, 0, args));
  OK(launch(f, 1, 1, 1, 1, 1, 64, 0, args));
  std::vector<int> got = out.get();
  int bad = 0;
  for (int x : got) bad += x != 7;
  CHECK(bad == 0, "%d elements not filled", bad);
  CUdeviceptr null = 0;
  long long zero = 0;
  OK(launch(f, 1, 1, 1, 32, 1, 1, 0, {&null, &value, &zero}));  // NULL pointers are fine
  OK(cuLaunchKernel(k("no_args"), 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr));
}

TEST(modules) {
  context();
  CUfunction f;
  EXPECT_CODE(cuModuleGetFunction(&f, kernels(), "no_such_kernel"), CUDA_ERROR_NOT_FOUND, "no_such_kernel");
  EXPECT_CODE(cuModuleGetFunction(&f, kernels(), "warp_reduce"), CUDA_ERROR_NOT_FOUND, "warp_reduce");
  CUfunction a = k("vec_add"), b = k("vec_add");
  CHECK(a == b, "one function per name");
  int v = 0;
  OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, a));
  CHECK(v == 1024, "max threads %d", v);
  // A second load of the same image is its own module; unloading it kills its functions only.
  CUmodule m2 = module("kernels.cu");
  CUfunction f2 = function(m2, "fill");
  OK(cuModuleUnload(m2));
  Buf<int> out(32);
  int value = 1;
  long long n = 32;
  EXPECT_CODE(launch(f2, 1, 1, 1, 32, 1, 1, 0, {&out.p, &value, &n}), CUDA_ERROR_INVALID_HANDLE, "not a function");
  EXPECT_CODE(cuModuleGetFunction(&f, m2, "fill"), CUDA_ERROR_INVALID_HANDLE, "not a loaded module");
  EXPECT_CODE(cuModuleUnload(m2), CUDA_ERROR_INVALID_HANDLE);
  OK(launch(k("fill"), 1, 1, 1, 32, 1, 1, 0, {&out.p, &value, &n}));
  // Images that are not the fake NVRTC's.
  CUmodule m;
  const char elf[] = "\x7f" "ELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00";
  EXPECT_CODE(cuModuleLoadData(&m, elf), CUDA_ERROR_INVALID_IMAGE, "real CUBIN");
  const char ptx[] = "//\n// Generated by NVIDIA NVVM Compiler\n.version 8.5\n.target sm_90\n";
  EXPECT_CODE(cuModuleLoadData(&m, ptx), CUDA_ERROR_INVALID_IMAGE, "real CUBIN, PTX");
  const char junk[64] = "not a module at all";
  EXPECT_CODE(cuModuleLoadData(&m, junk), CUDA_ERROR_INVALID_IMAGE, "not a module");
  char corrupt[32] = "OMEMUSO1";
  memset(corrupt + 8, 0xff, 8);
  EXPECT_CODE(cuModuleLoadData(&m, corrupt), CUDA_ERROR_INVALID_IMAGE, "bad size");
}

// ---- Faults: each launch fails with a clear message, never hangs, and leaves the context
// sticky (as on a GPU) until it is destroyed.

namespace {

struct Fault {
  const char* kernel;
  unsigned block, grid, shared;
  int code;
  std::vector<std::string> words;
};

void expect_fault(const Fault& f, std::vector<void*> args) {
  CUmodule m = module("faults.cu");
  CUfunction fn = function(m, f.kernel);
  int r = launch(fn, f.grid, 1, 1, f.block, 1, 1, f.shared, args);
  std::string msg = last_error();
  CHECK(r == f.code, "%s returned %d, want %d: %s", f.kernel, r, f.code, msg.c_str());
  for (const std::string& w : f.words)
    CHECK(contains(msg, w.c_str()), "%s: the message does not say \"%s\": %s", f.kernel, w.c_str(), msg.c_str());
  CHECK(cuCtxSynchronize() == f.code, "%s: the error is not sticky", f.kernel);
  CUdeviceptr p;
  CHECK(cuMemAlloc_v2(&p, 4) == f.code && contains(last_error(), "unusable"), "%s: cuMemAlloc after the fault: %s",
        f.kernel, emuLastError());
}

}  // namespace

TEST(faults) {
  std::string L = "faults.cu:";
  auto line = [&](const char* after, const char* what) { return L + std::to_string(line_of("faults.cu", after, what)); };
  struct Case {
    Fault f;
    bool with_n;
  } cases[] = {
      {{"half_barrier", 64, 1, 0, CUDA_ERROR_LAUNCH_FAILED,
        {"kernel half_barrier", "block (0,0,0)", "__syncthreads()", line("void half_barrier", "__syncthreads"),
         "can never complete", "returned"}},
       false},
      {{"late_return", 64, 1, 0, CUDA_ERROR_LAUNCH_FAILED,
        {"__syncthreads()", line("void late_return", "__syncthreads"), "can never complete", "thread 40 (40,0,0) returned"}},
       true},
      {{"two_barriers", 64, 2, 0, CUDA_ERROR_LAUNCH_FAILED,
        {"divergent __syncthreads()", line("void two_barriers", "__syncthreads"),
         L + std::to_string(line_of("faults.cu", "void two_barriers", "__syncthreads") + 2)}},
       false},
      {{"mixed_warp_ops", 32, 1, 0, CUDA_ERROR_LAUNCH_FAILED,
        {"different warp operations", "mask 0xffffffff", "__shfl_xor_sync", "__syncwarp",
         line("void mixed_warp_ops", "__shfl_xor_sync"), line("void mixed_warp_ops", "__syncwarp")}},
       false},
      {{"shuffle_vs_barrier", 32, 1, 0, CUDA_ERROR_LAUNCH_FAILED,
        {"deadlock", "threads 0-15 wait at __shfl_down_sync", "threads 16-31 wait at __syncthreads()"}},
       false},
      {{"wrong_mask", 32, 1, 0, CUDA_ERROR_LAUNCH_FAILED, {"__shfl_sync", "lane 5", "mask 0x00000001"}}, false},
      {{"overrun", 64, 2, 0, CUDA_ERROR_ILLEGAL_ADDRESS,
        {"kernel overrun", "bytes 0 to 3 past the end of allocation", "argument 0 (float* out)"}},
       true},
      {{"underrun", 32, 1, 0, CUDA_ERROR_ILLEGAL_ADDRESS, {"before allocation", "argument 0 (float* out)"}}, false},
      {{"dyn_overrun", 32, 1, 128, CUDA_ERROR_ILLEGAL_ADDRESS, {"dynamic shared memory", "128 bytes"}}, false},
  };
  for (const Case& c : cases) {
    reset();
    int n = c.f.kernel == std::string("overrun") ? 100 : 40;
    Buf<float> out(c.f.kernel == std::string("overrun") ? 100 : 256);
    std::vector<void*> args = {&out.p};
    if (c.with_n) args.push_back(&n);
    expect_fault(c.f, args);
  }
  reset();
  Buf<float> out(4 * 64);
  int block = 2, thread = 7;
  expect_fault({"trap_at", 64, 4, 0, CUDA_ERROR_LAUNCH_FAILED,
                {"__trap()", line("void trap_at", "__trap"), "block (2,0,0)", "thread (7,0,0)"}},
               {&out.p, &block, &thread});
  // Destroying the context clears the error.
  reset();
  CUdeviceptr p;
  OK(cuMemAlloc_v2(&p, 4));
  OK(cuMemFree_v2(p));
}

// The fiber switch rate: 256 threads crossing barriers; launches of small kernels.
TEST(switch_rate) {
  context();
  Buf<int> out(1);
  int iters = 4000;
  CUfunction f = k("barrier_loop");
  unsigned long long s0 = emuFiberSwitches();
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  OK(launch(f, 1, 1, 1, 256, 1, 1, 0, {&out.p, &iters}));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = double(t1.tv_sec - t0.tv_sec) + 1e-9 * double(t1.tv_nsec - t0.tv_nsec);
  unsigned long long switches = emuFiberSwitches() - s0;
  CHECK(switches >= 255ull * 4000, "%llu switches for 256 threads x 4000 barriers", switches);
  printf("fiber switches: %llu in %.4f s: %.1f M switches/s\n", switches, secs, double(switches) / secs / 1e6);
  CUfunction add = k("vec_add");
  Buf<float> a(256), b(256), c(256);
  int n = 256, launches = 2000;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < launches; i++) OK(launch(add, 1, 1, 1, 256, 1, 1, 0, {&c.p, &a.p, &b.p, &n}));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  secs = double(t1.tv_sec - t0.tv_sec) + 1e-9 * double(t1.tv_nsec - t0.tv_nsec);
  printf("launches of 256 threads: %d in %.4f s: %.0f launches/s\n", launches, secs, double(launches) / secs);
}

TEST_MAIN()
