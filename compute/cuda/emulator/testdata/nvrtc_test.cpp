// nvrtc_test.cpp: the fake NVRTC: versions, options, headers, compile errors and their log,
// the PTX and CUBIN images, how kernels are found in a source, and a missing compiler.
#include <unistd.h>

#include "check.h"

using namespace check;

namespace {

std::string log_of(nvrtcProgram p) {
  size_t n = 0;
  if (nvrtcGetProgramLogSize(p, &n) != 0) return "(no log size)";
  std::string log(n, '\0');
  if (nvrtcGetProgramLog(p, &log[0]) != 0) return "(no log)";
  if (n == 0 || log[n - 1] != '\0') return "(log size does not count the NUL)";
  log.resize(n - 1);
  return log;
}

// run_scaled launches kernel(out, n) from image and returns out.
std::vector<float> run_scaled(const void* image, const char* kernel, int n) {
  CUmodule m;
  std::vector<float> got;
  if (cuModuleLoadData(&m, image) != 0) {
    printf("    cuModuleLoadData: %s\n", emuLastError());
    return got;
  }
  CUfunction f;
  if (cuModuleGetFunction(&f, m, kernel) != 0) {
    printf("    cuModuleGetFunction(%s): %s\n", kernel, emuLastError());
    return got;
  }
  Buf<float> out(static_cast<size_t>(n));
  void* args[] = {&out.p, &n};
  if (cuLaunchKernel(f, 1, 1, 1, unsigned(n), 1, 1, 0, nullptr, args, nullptr) != 0) {
    printf("    cuLaunchKernel: %s\n", emuLastError());
    return got;
  }
  got = out.get();
  cuModuleUnload(m);
  return got;
}

const char* kScaled = R"(#include "consts.h"
#include "sub/more.h"
extern "C" __global__ void scaled(float* out, int n) {
  int i = threadIdx.x;
  if (i < n) out[i] = SCALE * (float)i + OFFSET + MORE;
}
)";

}  // namespace

TEST(version_and_strings) {
  int major = -1, minor = -1;
  OK(nvrtcVersion(&major, &minor));
  CHECK(major == 0 && minor >= 1, "version %d.%d: no real NVRTC has major version 0", major, minor);
  CHECK(strcmp(nvrtcGetErrorString(NVRTC_ERROR_COMPILATION), "NVRTC_ERROR_COMPILATION") == 0, "%s",
        nvrtcGetErrorString(NVRTC_ERROR_COMPILATION));
  CHECK(strcmp(nvrtcGetErrorString(NVRTC_SUCCESS), "NVRTC_SUCCESS") == 0, "success string");
  CHECK(strcmp(nvrtcGetErrorString(NVRTC_ERROR_INVALID_OPTION), "NVRTC_ERROR_INVALID_OPTION") == 0, "option string");
}

TEST(headers_options_and_images) {
  context();
  const char* headers[] = {"#define SCALE 3.0f\n", "#define MORE 0.5f\n"};
  const char* names[] = {"consts.h", "sub/more.h"};
  nvrtcProgram p;
  OK(nvrtcCreateProgram(&p, kScaled, "scaled.cu", 2, headers, names));
  size_t n = 0;
  EXPECT_CODE(nvrtcGetCUBINSize(p, &n), NVRTC_ERROR_INVALID_INPUT);  // not compiled yet
  const char* opts[] = {"--gpu-architecture=sm_90", "-arch=compute_90", "--std=c++17", "-std=c++17", "-lineinfo",
                        "--use_fast_math", "-default-device", "-DOFFSET=2.0f", "--fmad=true", "-w"};
  int r = nvrtcCompileProgram(p, int(sizeof opts / sizeof *opts), opts);
  CHECK(r == NVRTC_SUCCESS, "compile: %d\n%s", r, log_of(p).c_str());
  if (r != NVRTC_SUCCESS) return;
  OK(nvrtcGetCUBINSize(p, &n));
  std::string cubin(n, '\0');
  OK(nvrtcGetCUBIN(p, &cubin[0]));
  CHECK(n > 1000 && cubin.compare(0, 8, "OMEMUSO1") == 0, "CUBIN of %zu bytes", n);
  size_t pn = 0;
  OK(nvrtcGetPTXSize(p, &pn));
  std::string ptx(pn, 'x');
  OK(nvrtcGetPTX(p, &ptx[0]));
  CHECK(pn > 1 && ptx[pn - 1] == '\0' && strlen(ptx.c_str()) == pn - 1, "the PTX is a string of %zu bytes", pn - 1);
  CHECK(contains(ptx, "ordermerge CUDA emulator module"), "PTX header: %.80s", ptx.c_str());
  OK(nvrtcDestroyProgram(&p));
  CHECK(p == nullptr, "destroy leaves the handle");
  // Both images load and run: out[i] = 3i + 2 + 0.5.
  for (const std::string* image : {&cubin, &ptx}) {
    std::vector<float> got = run_scaled(image->data(), "scaled", 64);
    bool ok = got.size() == 64;
    for (int i = 0; ok && i < 64; i++) ok = got[size_t(i)] == 3.0f * float(i) + 2.5f;
    CHECK(ok, "the %s image gave wrong results", image == &cubin ? "CUBIN" : "PTX");
  }
}

TEST(unknown_options) {
  nvrtcProgram p;
  OK(nvrtcCreateProgram(&p, "extern \"C\" __global__ void k() {}\n", "k.cu", 0, nullptr, nullptr));
  for (const char* bad : {"--frobnicate", "-arch", "--gpu-architecture=", "-O2", "--not-an-option=1"}) {
    const char* opts[] = {"--std=c++17", bad};
    int r = nvrtcCompileProgram(p, 2, opts);
    CHECK(r == NVRTC_ERROR_INVALID_OPTION, "%s: %d", bad, r);
    CHECK(contains(log_of(p), bad), "the log does not name %s: %s", bad, log_of(p).c_str());
  }
  nvrtcDestroyProgram(&p);
}

TEST(macro_and_include_options) {
  context();
  const char* headers[] = {"#define MORE 0.25f\n"};
  const char* names[] = {"more.h"};
  // A header in a folder of the file system, found through --include-path.
  char dir[] = "/tmp/ordermerge-nvrtc-test-XXXXXX";
  if (!mkdtemp(dir)) {
    CHECK(false, "mkdtemp");
    return;
  }
  std::string ext = std::string(dir) + "/ext.h";
  FILE* f = fopen(ext.c_str(), "w");
  fputs("#define EXTRA 0.5f\n", f);
  fclose(f);
  std::string inc = std::string("--include-path=") + dir;
  const char* src = R"(#include "more.h"
#include "ext.h"
#ifdef DROP
#error DROP must be undefined
#endif
extern "C" __global__ void scaled(float* out, int n) {
  int i = threadIdx.x;
  if (i < n) out[i] = SCALE * (float)i + OFFSET + MORE + EXTRA;
}
)";
  nvrtcProgram p;
  OK(nvrtcCreateProgram(&p, src, "macros.cu", 1, headers, names));
  const char* opts[] = {"--define-macro=SCALE=2.0f", "-DOFFSET=1.0f", "-DDROP", "-UDROP", "--undefine-macro=NOTHING",
                        inc.c_str(), "--gpu-architecture=compute_90"};
  int r = nvrtcCompileProgram(p, 7, opts);
  CHECK(r == NVRTC_SUCCESS, "compile: %d\n%s", r, log_of(p).c_str());
  size_t n = 0;
  if (r == NVRTC_SUCCESS && nvrtcGetCUBINSize(p, &n) == 0) {
    std::string cubin(n, '\0');
    nvrtcGetCUBIN(p, &cubin[0]);
    std::vector<float> got = run_scaled(cubin.data(), "scaled", 32);
    CHECK(got.size() == 32 && got[10] == 21.75f, "out[10] = %g, want 21.75", got.size() == 32 ? got[10] : -1.0f);
  }
  nvrtcDestroyProgram(&p);
  remove(ext.c_str());
  rmdir(dir);
}

TEST(compile_errors) {
  nvrtcProgram p;
  const char* src = "extern \"C\" __global__ void k(float* out) {\n  out[0] = 1.0f;\n  out[1] = undefined_thing;\n}\n";
  OK(nvrtcCreateProgram(&p, src, "broken.cu", 0, nullptr, nullptr));
  int r = nvrtcCompileProgram(p, 0, nullptr);
  CHECK(r == NVRTC_ERROR_COMPILATION, "compile returned %d", r);
  std::string log = log_of(p);
  CHECK(contains(log, "broken.cu:3:") && contains(log, "undefined_thing"), "the log does not point at the error:\n%s",
        log.c_str());
  CHECK(!contains(log, "ordermerge-nvrtc-"), "the log names the temporary folder:\n%s", log.c_str());
  size_t n;
  EXPECT_CODE(nvrtcGetCUBINSize(p, &n), NVRTC_ERROR_INVALID_INPUT);
  EXPECT_CODE(nvrtcGetPTXSize(p, &n), NVRTC_ERROR_INVALID_INPUT);
  nvrtcDestroyProgram(&p);
  // CUDA that the dialect does not have fails to compile here too, with g++'s message.
  const char* real = "extern \"C\" __global__ void k(float* out) {\n  extern __shared__ float s[];\n  out[0] = s[0];\n}\n";
  OK(nvrtcCreateProgram(&p, real, "real.cu", 0, nullptr, nullptr));
  CHECK(nvrtcCompileProgram(p, 0, nullptr) == NVRTC_ERROR_COMPILATION, "extern __shared__ compiled");
  CHECK(contains(log_of(p), "real.cu:2:"), "%s", log_of(p).c_str());
  nvrtcDestroyProgram(&p);
}

TEST(finding_kernels) {
  context();
  // Kernels in an extern "C" block, with __launch_bounds__, declared before they are
  // defined, split over lines; a commented-out one and one in a string are not kernels.
  const char* src = R"(
// extern "C" __global__ void ghost(float* out) {
/* extern "C" __global__ void ghost2(float* out) */
__device__ const char* s = "extern \"C\" __global__ void ghost3(";
extern "C" __global__ void later(float* out, int n);
extern "C" {
__global__ void in_block(float* out, int n) { if ((int)threadIdx.x < n) out[threadIdx.x] = 1.0f; }
}
extern "C" __global__ __launch_bounds__(256) void bounded(float* out,
                                                          int n) {
  if ((int)threadIdx.x < n) out[threadIdx.x] = 2.0f;
}
extern "C" __global__ void later(float* out, int n) { if ((int)threadIdx.x < n) out[threadIdx.x] = 3.0f; }
extern "C" __global__ void __launch_bounds__(128, 2) bounds_after_void(float* out, int n) {
  if ((int)threadIdx.x < n) out[threadIdx.x] = 5.0f;
}
__global__ void not_extern_c(float* out) { out[0] = 4.0f; }
)";
  std::string cubin = compile(src, "find.cu");
  CHECK(!cubin.empty(), "did not compile");
  if (cubin.empty()) return;
  float want[] = {1.0f, 2.0f, 3.0f, 5.0f};
  const char* names[] = {"in_block", "bounded", "later", "bounds_after_void"};
  for (int i = 0; i < 4; i++) {
    std::vector<float> got = run_scaled(cubin.data(), names[i], 8);
    CHECK(got.size() == 8 && got[7] == want[i], "kernel %s", names[i]);
  }
  CUmodule m;
  OK(cuModuleLoadData(&m, cubin.data()));
  CUfunction f;
  for (const char* ghost : {"ghost", "ghost2", "ghost3", "not_extern_c", "__launch_bounds__"})
    EXPECT_CODE(cuModuleGetFunction(&f, m, ghost), CUDA_ERROR_NOT_FOUND, ghost);
  OK(cuModuleUnload(m));
}

TEST(missing_compiler) {
  nvrtcProgram p;
  OK(nvrtcCreateProgram(&p, "extern \"C\" __global__ void k() {}\n", nullptr, 0, nullptr, nullptr));
  setenv("ORDERMERGE_EMU_CXX", "/nonexistent/g++", 1);
  CHECK(nvrtcCompileProgram(p, 0, nullptr) == NVRTC_ERROR_COMPILATION, "compiled without a compiler");
  CHECK(contains(log_of(p), "/nonexistent/g++") && contains(log_of(p), "ORDERMERGE_EMU_CXX"), "%s", log_of(p).c_str());
  std::string path = getenv("PATH") ? getenv("PATH") : "";
  setenv("ORDERMERGE_EMU_CXX", "g++", 1);
  setenv("PATH", "/nonexistent", 1);
  CHECK(nvrtcCompileProgram(p, 0, nullptr) == NVRTC_ERROR_COMPILATION, "compiled without g++ on PATH");
  CHECK(contains(log_of(p), "g++ was not found on PATH") && contains(log_of(p), "install g++"), "%s",
        log_of(p).c_str());
  setenv("PATH", path.c_str(), 1);
  unsetenv("ORDERMERGE_EMU_CXX");
  CHECK(nvrtcCompileProgram(p, 0, nullptr) == NVRTC_SUCCESS, "%s", log_of(p).c_str());
  nvrtcDestroyProgram(&p);
}

TEST(bad_arguments) {
  nvrtcProgram p;
  EXPECT_CODE(nvrtcCreateProgram(&p, nullptr, "x.cu", 0, nullptr, nullptr), NVRTC_ERROR_INVALID_INPUT);
  EXPECT_CODE(nvrtcCreateProgram(&p, "", "x.cu", 1, nullptr, nullptr), NVRTC_ERROR_INVALID_INPUT);
  EXPECT_CODE(nvrtcCompileProgram(nullptr, 0, nullptr), NVRTC_ERROR_INVALID_PROGRAM);
  const char* h[] = {"x"};
  const char* bad[] = {"../escape.h"};
  OK(nvrtcCreateProgram(&p, "#include \"../escape.h\"\n", "x.cu", 1, h, bad));
  CHECK(nvrtcCompileProgram(p, 0, nullptr) == NVRTC_ERROR_INVALID_INPUT, "a header outside the folder");
  nvrtcDestroyProgram(&p);
}

TEST_MAIN()
