// driver.cpp: the fake CUDA driver's initialisation, device, context and error calls, and the
// last-error record. Memory is in driver_memory.cpp, modules and launches in driver_launch.cpp.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"

namespace emu {

Driver& driver() {
  static Driver* d = new Driver;  // never destroyed: calls may come during process exit
  return *d;
}

// The current context is per OS thread, as in CUDA: a thread that did not call
// cuCtxSetCurrent has none.
Context*& current_context() {
  static thread_local Context* c = nullptr;
  return c;
}

std::string format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[512];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return fmt;
  if (size_t(n) < sizeof small) return std::string(small, size_t(n));
  std::string s(size_t(n) + 1, '\0');
  va_start(ap, fmt);
  vsnprintf(&s[0], s.size(), fmt, ap);
  va_end(ap);
  s.resize(size_t(n));
  return s;
}

namespace {

std::mutex& last_error_mu() {
  static std::mutex* m = new std::mutex;
  return *m;
}

std::string& last_error() {
  static std::string* s = new std::string;
  return *s;
}

struct ErrorText {
  CUresult code;
  const char* name;
  const char* text;
};

// The descriptions are the real driver's (what cuGetErrorString returns on a GPU).
const ErrorText kErrors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
     "too many resources requested for launch"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

const ErrorText* find_error(CUresult r) {
  for (const ErrorText& e : kErrors)
    if (e.code == r) return &e;
  return nullptr;
}

constexpr const char* kDeviceName = "ordermerge CUDA emulator (CPU)";

bool quiet() {
  const char* q = getenv("ORDERMERGE_EMU_QUIET");
  return q && *q && strcmp(q, "0") != 0;
}

}  // namespace

const char* error_name(CUresult r) {
  const ErrorText* e = find_error(r);
  return e ? e->name : "CUDA_ERROR_(unknown code)";
}

void record_failure(const std::string& text) {
  {
    std::lock_guard<std::mutex> g(last_error_mu());
    last_error() = text;
  }
  if (!quiet()) fprintf(stderr, "ordermerge CUDA emulator: %s\n", text.c_str());
}

CUresult Call::fail(CUresult code, const std::string& message) {
  record_failure(format("%s: %s (%s)", api_, message.c_str(), error_name(code)));
  return code;
}

CUresult Call::context(Context** out) {
  Driver& d = driver();
  if (!d.initialized) return fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
  Context* c = current_context();
  if (c == nullptr)
    return fail(CUDA_ERROR_INVALID_CONTEXT,
                "this OS thread has no current context (cuCtxSetCurrent is per thread: a goroutine "
                "that moved to another thread must set it again, or stay locked to its thread)");
  if (!c->active)
    return fail(CUDA_ERROR_INVALID_CONTEXT, "the current context was released (cuDevicePrimaryCtxRelease)");
  if (c->sticky != CUDA_SUCCESS)
    return fail(c->sticky, "the context is unusable after an earlier error (release and retain the primary "
                           "context to start over): " +
                               c->sticky_msg);
  *out = c;
  return CUDA_SUCCESS;
}

CUresult Call::make_sticky(Context* c, CUresult code, const std::string& message) {
  c->sticky = code;
  c->sticky_msg = format("%s: %s", api_, message.c_str());
  return fail(code, message);
}

}  // namespace emu

using namespace emu;

namespace {

CUresult check_device(Call& call, CUdevice dev) {
  if (!driver().initialized) return call.fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
  if (dev != 0) return call.fail(CUDA_ERROR_INVALID_DEVICE, format("device %d does not exist (there is one, 0)", dev));
  return CUDA_SUCCESS;
}

bool attribute(int attrib, int* value) {
  switch (attrib) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = kMaxThreadsPerBlock; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: *value = 1024; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: *value = 1024; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: *value = 64; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *value = 2147483647; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: *value = 65535; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *value = 65535; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *value = kDefaultSharedPerBlock; return true;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: *value = 65536; return true;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *value = 32; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: *value = 65536; return true;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: *value = 1980000; return true;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *value = 132; return true;
    case CU_DEVICE_ATTRIBUTE_INTEGRATED: *value = 0; return true;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: *value = 1; return true;
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: *value = 0; return true;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: *value = 0; return true;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: *value = 0; return true;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: *value = 0; return true;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: *value = 2619000; return true;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: *value = 6144; return true;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: *value = 50 << 20; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: *value = 2048; return true;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: *value = 1; return true;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *value = 9; return true;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *value = 0; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: *value = 228 << 10; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: *value = 65536; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *value = kMaxSharedPerBlockOptin; return true;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: *value = 32; return true;
  }
  return false;
}

}  // namespace

extern "C" {

EMU_EXPORT const char* emuLastError(void) {
  static thread_local std::string copy;
  std::lock_guard<std::mutex> g(last_error_mu());
  copy = last_error();
  return copy.c_str();
}

EMU_EXPORT CUresult cuInit(unsigned int flags) {
  Call call("cuInit");
  if (flags != 0) return call.fail(CUDA_ERROR_INVALID_VALUE, format("flags must be 0, not %u", flags));
  driver().initialized = true;
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuDriverGetVersion(int* version) {
  Call call("cuDriverGetVersion");
  if (!version) return call.fail(CUDA_ERROR_INVALID_VALUE, "version is NULL");
  *version = 13000;  // CUDA 13.0
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuDeviceGetCount(int* count) {
  Call call("cuDeviceGetCount");
  if (!driver().initialized) return call.fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
  if (!count) return call.fail(CUDA_ERROR_INVALID_VALUE, "count is NULL");
  *count = 1;
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  Call call("cuDeviceGet");
  if (!driver().initialized) return call.fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
  if (!device) return call.fail(CUDA_ERROR_INVALID_VALUE, "device is NULL");
  if (ordinal != 0)
    return call.fail(CUDA_ERROR_INVALID_DEVICE, format("device %d does not exist (there is one, 0)", ordinal));
  *device = 0;
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
  Call call("cuDeviceGetName");
  if (CUresult r = check_device(call, dev)) return r;
  if (!name || len <= 0) return call.fail(CUDA_ERROR_INVALID_VALUE, "name is NULL or len is not positive");
  snprintf(name, size_t(len), "%s", kDeviceName);
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuDeviceGetAttribute(int* pi, int attrib, CUdevice dev) {
  Call call("cuDeviceGetAttribute");
  if (CUresult r = check_device(call, dev)) return r;
  if (!pi) return call.fail(CUDA_ERROR_INVALID_VALUE, "pi is NULL");
  if (!attribute(attrib, pi))
    return call.fail(CUDA_ERROR_INVALID_VALUE,
                     format("device attribute %d is not emulated (add it to driver.cpp if the device needs it)", attrib));
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  Call call("cuDeviceTotalMem_v2");
  if (CUresult r = check_device(call, dev)) return r;
  if (!bytes) return call.fail(CUDA_ERROR_INVALID_VALUE, "bytes is NULL");
  *bytes = kTotalMemory;
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  Call call("cuDevicePrimaryCtxRetain");
  if (CUresult r = check_device(call, dev)) return r;
  if (!pctx) return call.fail(CUDA_ERROR_INVALID_VALUE, "pctx is NULL");
  Context& c = driver().primary;
  c.refs++;
  c.active = true;
  *pctx = reinterpret_cast<CUcontext>(&c);
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  Call call("cuDevicePrimaryCtxRelease_v2");
  if (CUresult r = check_device(call, dev)) return r;
  Context& c = driver().primary;
  if (c.refs == 0) return call.fail(CUDA_ERROR_INVALID_CONTEXT, "the primary context is not retained");
  if (--c.refs == 0) {
    // The last release destroys the context: its memory, its modules and any sticky error.
    free_all(&c);
    unload_all(&c);
    c.active = false;
    c.sticky = CUDA_SUCCESS;
    c.sticky_msg.clear();
  }
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
  Call call("cuCtxSetCurrent");
  if (!driver().initialized) return call.fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
  if (ctx == nullptr) {
    current_context() = nullptr;
    return CUDA_SUCCESS;
  }
  Context* c = reinterpret_cast<Context*>(ctx);
  if (c != &driver().primary) return call.fail(CUDA_ERROR_INVALID_CONTEXT, "not a context of this driver");
  if (!c->active) return call.fail(CUDA_ERROR_INVALID_CONTEXT, "the primary context was released");
  current_context() = c;
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuCtxGetCurrent(CUcontext* pctx) {
  Call call("cuCtxGetCurrent");
  if (!driver().initialized) return call.fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
  if (!pctx) return call.fail(CUDA_ERROR_INVALID_VALUE, "pctx is NULL");
  *pctx = reinterpret_cast<CUcontext>(current_context());
  return CUDA_SUCCESS;
}

// Work runs when it is queued, so synchronising only reports a sticky error.
EMU_EXPORT CUresult cuCtxSynchronize(void) {
  Call call("cuCtxSynchronize");
  Context* c;
  return call.context(&c);
}

EMU_EXPORT CUresult cuStreamSynchronize(CUstream stream) {
  Call call("cuStreamSynchronize");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  if (stream != nullptr && stream != CU_STREAM_LEGACY && stream != CU_STREAM_PER_THREAD)
    return call.fail(CUDA_ERROR_INVALID_HANDLE, "the emulator has only the default stream (NULL)");
  return CUDA_SUCCESS;
}

// cuGetErrorString and cuGetErrorName leave the last error alone: callers use them to format
// the error they just got, together with emuLastError.
EMU_EXPORT CUresult cuGetErrorString(CUresult error, const char** str) {
  if (!str) return CUDA_ERROR_INVALID_VALUE;
  const ErrorText* e = find_error(error);
  *str = e ? e->text : nullptr;
  return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EMU_EXPORT CUresult cuGetErrorName(CUresult error, const char** str) {
  if (!str) return CUDA_ERROR_INVALID_VALUE;
  const ErrorText* e = find_error(error);
  *str = e ? e->name : nullptr;
  return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// ---- For the fake cuBLAS.

EMU_EXPORT int emuInternalBegin(char* why, size_t cap) {
  Driver& d = driver();
  d.mu.lock();
  Context* c = current_context();
  if (c == nullptr || !c->active) c = &d.primary;  // cuBLAS, like the runtime, falls back to the primary context
  std::string msg;
  int r = CUDA_SUCCESS;
  if (!d.initialized) {
    r = CUDA_ERROR_NOT_INITIALIZED;
    msg = "cuInit has not been called";
  } else if (!c->active) {
    r = CUDA_ERROR_INVALID_CONTEXT;
    msg = "no context: retain the primary context first";
  } else if (c->sticky != CUDA_SUCCESS) {
    r = c->sticky;
    msg = "the context is unusable after an earlier error: " + c->sticky_msg;
  }
  if (why && cap) snprintf(why, cap, "%s", msg.c_str());
  return r;
}

EMU_EXPORT void emuInternalEnd(void) { driver().mu.unlock(); }

EMU_EXPORT int emuInternalCheckRange(const void* p, size_t bytes, char* why, size_t cap) {
  Context* c = current_context();
  if (c == nullptr || !c->active) c = &driver().primary;
  std::string msg;
  if (find_range(c, reinterpret_cast<uintptr_t>(p), bytes, &msg)) return 0;
  if (why && cap) snprintf(why, cap, "%s", msg.c_str());
  return 1;
}

EMU_EXPORT void emuInternalSetLastError(const char* text) { record_failure(text ? text : ""); }

}  // extern "C"
