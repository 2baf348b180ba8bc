// emu_internal.h: the fake driver's state, shared by its source files (driver*.cpp,
// fibers.cpp). What the fake cuBLAS calls is in emu_hooks.h.
#ifndef ORDERMERGE_EMU_INTERNAL_H
#define ORDERMERGE_EMU_INTERNAL_H

#include <stdint.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "emu_api.h"
#include "emu_hooks.h"
#define EMU_ABI_ONLY
#include "cuda_emu.h"
#undef EMU_ABI_ONLY

namespace emu {

// Device properties: an H200-like GPU (sm_90, 132 SMs) with 16 GiB.
constexpr size_t kTotalMemory = size_t(16) << 30;
constexpr int kDefaultSharedPerBlock = 48 << 10;
constexpr int kMaxSharedPerBlockOptin = 227 << 10;
constexpr int kMaxThreadsPerBlock = 1024;

// Every allocation is preceded and followed by guard bytes (canaries) of a known pattern;
// the pointer handed out is 256-byte aligned, as cuMemAlloc's are.
constexpr size_t kFrontGuard = 256;
constexpr size_t kBackGuard = 512;

struct Allocation {
  uintptr_t base = 0;
  size_t size = 0;
  char* raw = nullptr;
  unsigned long long serial = 0;
};

struct Module;

struct Function {
  Module* module = nullptr;
  const emu_kernel_info* kernel = nullptr;
  std::vector<std::string> params;  // each parameter as written, for messages
  int max_dynamic_shared = kDefaultSharedPerBlock;
  int carveout = -1;
  bool live = true;
};

struct Module {
  void* dl = nullptr;
  const emu_module_info* info = nullptr;
  std::map<std::string, Function*> functions;
  bool live = true;
};

struct Context {
  int refs = 0;
  bool active = false;
  // A launch failure, an out-of-bounds write or a corrupted guard leaves the context unusable
  // (as on a GPU): every later call returns sticky until the primary context is released.
  CUresult sticky = CUDA_SUCCESS;
  std::string sticky_msg;
  std::map<uintptr_t, Allocation> allocs;  // by base address
  std::map<uintptr_t, Allocation> freed;   // recently freed, for messages about stale pointers
  size_t allocated = 0;
  unsigned long long next_serial = 1;
  std::vector<Module*> modules;
};

struct Driver {
  std::mutex mu;  // one call at a time: launches, copies and products never overlap
  bool initialized = false;
  Context primary;
  // Every module and function ever created (they are never freed, only marked dead), so a
  // stale handle is recognised instead of dereferenced.
  std::set<const void*> modules, functions;
};

Driver& driver();
Context*& current_context();

// format is printf into a std::string.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// record_failure stores text as the last error (emuLastError) and prints it to stderr.
void record_failure(const std::string& text);
const char* error_name(CUresult r);

// Call is the frame of one driver API call: it holds the driver lock and formats failures.
class Call {
 public:
  explicit Call(const char* api) : api_(api), lock_(driver().mu) {}
  // fail records "api: message" and returns code.
  CUresult fail(CUresult code, const std::string& message);
  // context checks cuInit, the calling thread's current context and a sticky error.
  CUresult context(Context** out);
  // make_sticky fails the context with code, then returns fail(code, message).
  CUresult make_sticky(Context* c, CUresult code, const std::string& message);
  const char* api() const { return api_; }

 private:
  const char* api_;
  std::lock_guard<std::mutex> lock_;
};

// Memory (driver_memory.cpp). The driver lock is held.
// find_range returns the allocation holding [p, p+bytes), or null with *why set.
const Allocation* find_range(Context* c, uintptr_t p, size_t bytes, std::string* why);
// check_guards returns "" when every allocation's guard bytes are intact, else what broke.
std::string check_guards(Context* c);
// free_all releases every allocation of c (when its last reference goes).
void free_all(Context* c);
// describe names an allocation in messages.
std::string describe(const Allocation& a);

// Modules (driver_launch.cpp).
void unload_all(Context* c);

// The block scheduler (fibers.cpp): runs every block of a grid, the threads of a block as
// fibers on the calling thread.
struct Grid {
  const Function* fn = nullptr;
  emu_uint3 grid{}, block{};
  size_t dynamic_shared = 0;
  void** params = nullptr;
};
// run_grid returns CUDA_SUCCESS, or the failure's code with *message set.
CUresult run_grid(const Grid& g, std::string* message);

}  // namespace emu

#endif
