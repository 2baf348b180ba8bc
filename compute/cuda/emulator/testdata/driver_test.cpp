// driver_test.cpp: the fake driver without kernels: initialisation, the device, contexts,
// memory, copies, guards and error reporting.
#include <pthread.h>

#include "check.h"

using namespace check;

TEST(before_init) {
  CUdeviceptr p;
  int n;
  EXPECT_CODE(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED, "cuInit");
  EXPECT_CODE(cuMemAlloc_v2(&p, 16), CUDA_ERROR_NOT_INITIALIZED, "cuInit");
  int v = 0;
  OK(cuDriverGetVersion(&v));  // works before cuInit
  CHECK(v == 13000, "version %d", v);
  EXPECT_CODE(cuInit(1), CUDA_ERROR_INVALID_VALUE, "flags");
  OK(cuInit(0));
}

TEST(device) {
  OK(cuInit(0));
  int n = 0;
  OK(cuDeviceGetCount(&n));
  CHECK(n == 1, "count %d", n);
  CUdevice d = -1;
  OK(cuDeviceGet(&d, 0));
  CHECK(d == 0, "device %d", d);
  EXPECT_CODE(cuDeviceGet(&d, 1), CUDA_ERROR_INVALID_DEVICE, "device 1");
  char name[128];
  OK(cuDeviceGetName(name, sizeof name, 0));
  CHECK(strcmp(name, "ordermerge CUDA emulator (CPU)") == 0, "name %s", name);
  char shortname[9];
  OK(cuDeviceGetName(shortname, sizeof shortname, 0));
  CHECK(strcmp(shortname, "ordermer") == 0, "truncated name %s", shortname);
  struct {
    int attr, want;
  } attrs[] = {{CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 9},
               {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0},
               {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 132},
               {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 1024},
               {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, 48 << 10},
               {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 227 << 10},
               {CU_DEVICE_ATTRIBUTE_WARP_SIZE, 32},
               {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, 1024},
               {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, 1024},
               {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, 64},
               {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, 2147483647},
               {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, 65535},
               {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, 65535}};
  for (auto a : attrs) {
    int v = -1;
    OK(cuDeviceGetAttribute(&v, a.attr, 0));
    CHECK(v == a.want, "attribute %d = %d, want %d", a.attr, v, a.want);
  }
  int v;
  EXPECT_CODE(cuDeviceGetAttribute(&v, 9999, 0), CUDA_ERROR_INVALID_VALUE, "9999", "not emulated");
  EXPECT_CODE(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 3), CUDA_ERROR_INVALID_DEVICE);
  size_t total = 0;
  OK(cuDeviceTotalMem_v2(&total, 0));
  CHECK(total == (size_t(16) << 30), "total %zu", total);
}

static void* no_context_thread(void* out) {
  CUdeviceptr p;
  *static_cast<int*>(out) = cuMemAlloc_v2(&p, 16);
  CUcontext c = reinterpret_cast<CUcontext>(1);
  cuCtxGetCurrent(&c);
  if (c != nullptr) *static_cast<int*>(out) = -1;
  return nullptr;
}

TEST(contexts) {
  CUcontext c = context();
  CUcontext cur = nullptr;
  OK(cuCtxGetCurrent(&cur));
  CHECK(cur == c, "current %p, want %p", (void*)cur, (void*)c);
  CUcontext again = nullptr;
  OK(cuDevicePrimaryCtxRetain(&again, 0));
  CHECK(again == c, "the primary context is one context");
  OK(cuDevicePrimaryCtxRelease_v2(0));
  OK(cuCtxSynchronize());
  OK(cuStreamSynchronize(nullptr));
  EXPECT_CODE(cuStreamSynchronize(reinterpret_cast<CUstream>(0x1234)), CUDA_ERROR_INVALID_HANDLE, "stream");
  // The current context is per OS thread.
  int code = 0;
  pthread_t t;
  pthread_create(&t, nullptr, no_context_thread, &code);
  pthread_join(t, nullptr);
  CHECK(code == CUDA_ERROR_INVALID_CONTEXT, "another thread got %d", code);
  CHECK(contains(last_error(), "no current context"), "%s", last_error().c_str());
  OK(cuCtxSetCurrent(nullptr));
  CUdeviceptr p;
  EXPECT_CODE(cuMemAlloc_v2(&p, 16), CUDA_ERROR_INVALID_CONTEXT, "no current context");
  EXPECT_CODE(cuCtxSetCurrent(reinterpret_cast<CUcontext>(&code)), CUDA_ERROR_INVALID_CONTEXT);
  OK(cuCtxSetCurrent(c));
  // Releasing the last reference destroys the context and its memory.
  OK(cuMemAlloc_v2(&p, 64));
  while (cuDevicePrimaryCtxRelease_v2(0) == 0) {
  }
  EXPECT_CODE(cuMemAlloc_v2(&p, 16), CUDA_ERROR_INVALID_CONTEXT, "released");
  c = context();
  size_t free_bytes, total;
  OK(cuMemGetInfo_v2(&free_bytes, &total));
  CHECK(free_bytes == total, "a new context starts with nothing allocated: %zu of %zu free", free_bytes, total);
}

TEST(allocation) {
  context();
  size_t free0, total;
  OK(cuMemGetInfo_v2(&free0, &total));
  CHECK(total == (size_t(16) << 30), "total %zu", total);
  CUdeviceptr p = 0, q = 0;
  OK(cuMemAlloc_v2(&p, 1000));
  CHECK(p % 256 == 0, "0x%llx is not 256-byte aligned", p);
  size_t free1;
  OK(cuMemGetInfo_v2(&free1, &total));
  CHECK(free0 - free1 == 1024, "1000 bytes took %zu", free0 - free1);
  // New memory is 0xFF bytes: NaN as floats.
  std::vector<float> h(250);
  OK(cuMemcpyDtoH_v2(h.data(), p, 1000));
  bool all = true;
  for (float v : h) all = all && isnan(v) && bits(v) == 0xffffffffu;
  CHECK(all, "new memory is not all 0xFF");
  OK(cuMemAlloc_v2(&q, 3));
  CHECK(q != p, "two allocations at one address");
  OK(cuMemFree_v2(q));
  OK(cuMemFree_v2(p));
  size_t free2;
  OK(cuMemGetInfo_v2(&free2, &total));
  CHECK(free2 == free0, "free %zu after freeing, %zu before", free2, free0);
  EXPECT_CODE(cuMemAlloc_v2(&p, 0), CUDA_ERROR_INVALID_VALUE, "0");
  EXPECT_CODE(cuMemAlloc_v2(&p, size_t(17) << 30), CUDA_ERROR_OUT_OF_MEMORY, "free");
  EXPECT_CODE(cuMemAlloc_v2(nullptr, 16), CUDA_ERROR_INVALID_VALUE, "NULL");
}

TEST(free_errors) {
  context();
  CUdeviceptr p;
  OK(cuMemAlloc_v2(&p, 64));
  EXPECT_CODE(cuMemFree_v2(p + 8), CUDA_ERROR_INVALID_VALUE, "inside an allocation");
  OK(cuMemFree_v2(p));
  EXPECT_CODE(cuMemFree_v2(p), CUDA_ERROR_INVALID_VALUE, "freed");
  int local;
  EXPECT_CODE(cuMemFree_v2(CUdeviceptr(uintptr_t(&local))), CUDA_ERROR_INVALID_VALUE, "not inside any");
  EXPECT_CODE(cuMemFree_v2(0), CUDA_ERROR_INVALID_VALUE, "NULL");
}

TEST(copies) {
  context();
  std::vector<float> h(100), back(100, -1.0f);
  for (int i = 0; i < 100; i++) h[size_t(i)] = float(i) * 0.5f;
  Buf<float> a(100), b(100);
  OK(cuMemcpyHtoD_v2(a.p, h.data(), 400));
  OK(cuMemcpyDtoD_v2(b.p, a.p, 400));
  OK(cuMemcpyDtoH_v2(back.data(), b.p, 400));
  CHECK(back == h, "round trip differs");
  // Partial copies at offsets, and overlapping device copies (memmove).
  OK(cuMemcpyDtoD_v2(b.p + 4, b.p, 396));
  OK(cuMemcpyDtoH_v2(back.data(), b.p, 400));
  CHECK(back[0] == 0.0f && back[1] == 0.0f && back[99] == 49.0f, "overlapping copy: %g %g %g", back[0], back[1],
        back[99]);
  OK(cuMemcpyHtoD_v2(a.p, h.data(), 0));  // empty copies are fine
  // Copies must lie inside one allocation.
  EXPECT_CODE(cuMemcpyHtoD_v2(a.p + 4, h.data(), 400), CUDA_ERROR_INVALID_VALUE, "destination",
              "4 bytes past the end", "allocation #");
  EXPECT_CODE(cuMemcpyDtoH_v2(back.data(), a.p, 401), CUDA_ERROR_INVALID_VALUE, "source", "past the end");
  EXPECT_CODE(cuMemcpyDtoD_v2(a.p, b.p + 200, 400), CUDA_ERROR_INVALID_VALUE, "source");
  int local[4];
  EXPECT_CODE(cuMemcpyHtoD_v2(CUdeviceptr(uintptr_t(local)), h.data(), 16), CUDA_ERROR_INVALID_VALUE,
              "not inside any device allocation");
  CUdeviceptr gone;
  OK(cuMemAlloc_v2(&gone, 64));
  OK(cuMemFree_v2(gone));
  EXPECT_CODE(cuMemcpyHtoD_v2(gone, h.data(), 16), CUDA_ERROR_INVALID_VALUE, "was freed");
  // Nothing outside the copied range changed.
  OK(cuMemcpyDtoH_v2(back.data(), a.p, 400));
  CHECK(back == h, "a refused copy wrote something");
}

TEST(memset) {
  context();
  Buf<unsigned> a(64);
  OK(cuMemsetD32_v2(a.p, 0x3f800000u, 64));
  std::vector<unsigned> v = a.get();
  bool ok = true;
  for (unsigned x : v) ok = ok && x == 0x3f800000u;
  CHECK(ok, "cuMemsetD32");
  OK(cuMemsetD8_v2(a.p + 1, 0xab, 2));
  v = a.get();
  CHECK(v[0] == 0x3fabab00u, "cuMemsetD8 bytes 1-2: 0x%08x", v[0]);
  EXPECT_CODE(cuMemsetD32_v2(a.p + 2, 0, 4), CUDA_ERROR_INVALID_VALUE, "aligned");
  EXPECT_CODE(cuMemsetD32_v2(a.p, 0, 65), CUDA_ERROR_INVALID_VALUE, "past the end");
  EXPECT_CODE(cuMemsetD8_v2(a.p, 0, 257), CUDA_ERROR_INVALID_VALUE, "past the end");
}

TEST(guards) {
  context();
  CUdeviceptr p, q;
  OK(cuMemAlloc_v2(&p, 100));
  OK(cuMemAlloc_v2(&q, 100));
  // Host code writing past the end through the device pointer (which is a host pointer here)
  // is caught when the allocation is freed...
  reinterpret_cast<unsigned char*>(p)[100] = 0;
  EXPECT_CODE(cuMemFree_v2(p), CUDA_ERROR_ILLEGAL_ADDRESS, "past the end of allocation", "100 bytes", "freed");
  // ...and the context stays unusable, as after an illegal address on a GPU.
  EXPECT_CODE(cuMemAlloc_v2(&p, 16), CUDA_ERROR_ILLEGAL_ADDRESS, "unusable");
  EXPECT_CODE(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS, "unusable");
  reset();
  OK(cuMemAlloc_v2(&p, 100));
  OK(cuMemAlloc_v2(&q, 8));
  // A write before the start is caught after the next copy, whichever allocation it copies.
  reinterpret_cast<unsigned char*>(p)[-3] = 7;
  float x = 1;
  EXPECT_CODE(cuMemcpyHtoD_v2(q, &x, 4), CUDA_ERROR_ILLEGAL_ADDRESS, "before allocation", "3 bytes before");
  reset();
}

TEST(error_strings) {
  const char* s = nullptr;
  OK(cuGetErrorName(CUDA_ERROR_ILLEGAL_ADDRESS, &s));
  CHECK(s && strcmp(s, "CUDA_ERROR_ILLEGAL_ADDRESS") == 0, "%s", s);
  OK(cuGetErrorString(CUDA_ERROR_INVALID_VALUE, &s));
  CHECK(s && strcmp(s, "invalid argument") == 0, "%s", s);
  OK(cuGetErrorString(CUDA_ERROR_LAUNCH_FAILED, &s));
  CHECK(s && strcmp(s, "unspecified launch failure") == 0, "%s", s);
  OK(cuGetErrorName(CUDA_SUCCESS, &s));
  CHECK(s && strcmp(s, "CUDA_SUCCESS") == 0, "%s", s);
  // An unknown code, and formatting an error leaves the last error alone.
  context();
  CUdeviceptr p;
  cuMemAlloc_v2(&p, 0);
  std::string before = last_error();
  EXPECT_CODE(cuGetErrorName(12345, &s), CUDA_ERROR_INVALID_VALUE);
  CHECK(s == nullptr, "name of an unknown code: %s", s);
  CHECK(last_error() == before, "cuGetErrorName changed the last error to %s", last_error().c_str());
  CHECK(contains(before, "cuMemAlloc_v2") && contains(before, "CUDA_ERROR_INVALID_VALUE"), "%s", before.c_str());
}

TEST_MAIN()
