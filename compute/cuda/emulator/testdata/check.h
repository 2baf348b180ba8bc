// check.h: a small test harness for the C-level tests of the fakes. Each TEST runs in order;
// its result is one line "--- PASS name" or "--- FAIL name", after its failure messages; the
// Go test turns each into a subtest. Programs link against the fakes (emu_api.h declares them).
#ifndef ORDERMERGE_EMU_CHECK_H
#define ORDERMERGE_EMU_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

#include "emu_api.h"

namespace check {

struct Test {
  const char* name;
  void (*fn)();
};

inline std::vector<Test>& tests() {
  static std::vector<Test> t;
  return t;
}

inline int& failures() {
  static int n = 0;
  return n;
}

struct Register {
  Register(const char* name, void (*fn)()) { tests().push_back({name, fn}); }
};

// The folder of the test sources (argv[1]).
inline std::string& testdata() {
  static std::string d;
  return d;
}

inline std::string read_file(const std::string& path) {
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) {
    printf("cannot open %s\n", path.c_str());
    exit(2);
  }
  std::string s;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  fclose(f);
  return s;
}

inline bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

inline std::string last_error() { return emuLastError(); }

inline uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

inline float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// ---- Set-up shared by the programs.

// context makes the primary context current on this thread (retaining it once per call).
inline CUcontext context() {
  CUcontext c = nullptr;
  if (cuInit(0) != 0 || cuDevicePrimaryCtxRetain(&c, 0) != 0 || cuCtxSetCurrent(c) != 0) {
    printf("cannot set up the context: %s\n", emuLastError());
    exit(2);
  }
  return c;
}

// reset destroys the primary context (every reference released), then makes a new one
// current: the way out of a sticky error.
inline int& generation() {
  static int g = 0;
  return g;
}

inline CUcontext reset() {
  while (cuDevicePrimaryCtxRelease_v2(0) == 0) {
  }
  generation()++;
  return context();
}

// compile runs the fake NVRTC over src and returns the CUBIN, or "" with the log printed.
inline std::string compile(const std::string& src, const char* name, std::vector<const char*> opts = {}) {
  nvrtcProgram p;
  if (nvrtcCreateProgram(&p, src.c_str(), name, 0, nullptr, nullptr) != 0) return "";
  int r = nvrtcCompileProgram(p, int(opts.size()), opts.data());
  size_t n = 0;
  std::string out;
  if (r == 0 && nvrtcGetCUBINSize(p, &n) == 0) {
    out.resize(n);
    nvrtcGetCUBIN(p, &out[0]);
  } else {
    size_t ln = 0;
    nvrtcGetProgramLogSize(p, &ln);
    std::string log(ln, '\0');
    nvrtcGetProgramLog(p, &log[0]);
    printf("compiling %s failed (%d):\n%s\n", name, r, log.c_str());
  }
  nvrtcDestroyProgram(&p);
  return out;
}

// module compiles testdata/file (once per process) and loads it.
inline CUmodule module(const char* file) {
  static std::vector<std::pair<std::string, std::string>> compiled;
  std::string cubin;
  for (const auto& c : compiled)
    if (c.first == file) cubin = c.second;
  if (cubin.empty()) {
    cubin = compile(read_file(testdata() + "/" + file), file, {"--gpu-architecture=sm_90", "--std=c++17"});
    compiled.push_back({file, cubin});
  }
  CUmodule m = nullptr;
  if (cubin.empty() || cuModuleLoadData(&m, cubin.data()) != 0) {
    printf("cannot load %s: %s\n", file, emuLastError());
    exit(2);
  }
  return m;
}

inline CUfunction function(CUmodule m, const char* name) {
  CUfunction f = nullptr;
  if (cuModuleGetFunction(&f, m, name) != 0) {
    printf("no kernel %s: %s\n", name, emuLastError());
    exit(2);
  }
  return f;
}

// Device memory for n elements of T, freed at the end of the scope.
template <class T>
struct Buf {
  CUdeviceptr p = 0;
  size_t n = 0;
  explicit Buf(size_t count) : n(count) {
    if (cuMemAlloc_v2(&p, n * sizeof(T)) != 0) {
      printf("cuMemAlloc_v2(%zu): %s\n", n * sizeof(T), emuLastError());
      exit(2);
    }
  }
  Buf(const std::vector<T>& v) : Buf(v.size()) { cuMemcpyHtoD_v2(p, v.data(), v.size() * sizeof(T)); }
  ~Buf() { cuMemFree_v2(p); }
  Buf(const Buf&) = delete;
  std::vector<T> get() const {
    std::vector<T> v(n);
    if (cuMemcpyDtoH_v2(v.data(), p, n * sizeof(T)) != 0) printf("cuMemcpyDtoH_v2: %s\n", emuLastError());
    return v;
  }
  T* host() const { return reinterpret_cast<T*>(p); }  // device pointers are host pointers here
};

// launch runs f with the given geometry; args are pointers to the arguments.
inline int launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                  unsigned shared, std::vector<void*> args) {
  return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, nullptr, args.data(), nullptr);
}

}  // namespace check

#define TEST(name)                                                 \
  static void name();                                              \
  static check::Register register_##name(#name, name);             \
  static void name()

// CHECK records a failure and goes on.
#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      check::failures()++;                                            \
      printf("    %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
      printf(__VA_ARGS__);                                            \
      printf("\n");                                                   \
    }                                                                 \
  } while (0)

// EXPECT_CODE checks that an API call returns code, and that the emulator then says why
// (emuLastError mentions each given word).
#define EXPECT_CODE(call, code, ...)                                                               \
  do {                                                                                             \
    int got_ = (call);                                                                             \
    CHECK(got_ == (code), "%s returned %d, want %d (%s); last error: %s", #call, got_, (int)(code), #code, \
          emuLastError());                                                                         \
    const char* words_[] = {"", ##__VA_ARGS__};                                                    \
    std::string le_ = check::last_error();                                                         \
    for (const char* w_ : words_)                                                                  \
      CHECK(le_.find(w_) != std::string::npos, "%s: the last error does not mention \"%s\": %s", #call, w_, \
            le_.c_str());                                                                          \
  } while (0)

// OK checks that a call succeeds; it stops the test if not (what follows depends on it).
#define OK(call)                                                                                \
  do {                                                                                          \
    int got_ = (call);                                                                          \
    if (got_ != 0) {                                                                            \
      check::failures()++;                                                                      \
      printf("    %s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call, got_, emuLastError()); \
      return;                                                                                   \
    }                                                                                           \
  } while (0)

#define TEST_MAIN()                                                                \
  int main(int argc, char** argv) {                                                \
    if (argc > 1) check::testdata() = argv[1];                                     \
    setvbuf(stdout, nullptr, _IONBF, 0);                                           \
    int failed = 0;                                                                \
    for (const check::Test& t : check::tests()) {                                  \
      if (argc > 2 && strcmp(argv[2], t.name) != 0) continue;                      \
      printf("=== RUN %s\n", t.name);                                              \
      int before = check::failures();                                              \
      t.fn();                                                                      \
      bool ok = check::failures() == before;                                       \
      printf("--- %s %s\n", ok ? "PASS" : "FAIL", t.name);                          \
      failed += !ok;                                                               \
    }                                                                              \
    return failed ? 1 : 0;                                                         \
  }

#endif
