// driver_memory.cpp: device memory of the fake driver. Device pointers are host pointers.
// Bugs are made visible: new memory is 0xFF bytes (NaN as floats), every allocation has guard
// bytes before and after it that are checked on free and after every launch and copy, and a
// copy must lie inside one allocation.
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"

namespace emu {

namespace {

// The guard pattern: no byte is 0x00 or 0xFF, the values a stray write most often leaves.
const unsigned char* guard_pattern() {
  static unsigned char* p = [] {
    unsigned char* b = new unsigned char[kBackGuard];
    for (size_t i = 0; i < kBackGuard; i++) b[i] = (unsigned char)(0x80 + i % 127);
    return b;
  }();
  return p;
}

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// first_changed returns the index of the first byte of [p, p+n) that differs from the guard
// pattern, or n.
size_t first_changed(const char* p, size_t n) {
  const unsigned char* g = guard_pattern();
  if (memcmp(p, g, n) == 0) return n;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)p[i] != g[i]) return i;
  return n;
}

// guard_damage describes a broken guard of a, or returns "".
std::string guard_damage(const Allocation& a) {
  const char* front = a.raw;
  size_t f = first_changed(front, kFrontGuard);
  if (f < kFrontGuard)
    return format("the %zu bytes before %s were overwritten (first at %zd bytes before its start)", kFrontGuard,
                  describe(a).c_str(), (ssize_t)(kFrontGuard - f));
  const char* back = reinterpret_cast<const char*>(a.base) + a.size;
  size_t b = first_changed(back, kBackGuard);
  if (b < kBackGuard) {
    size_t last = b;
    for (size_t i = b; i < kBackGuard; i++)
      if ((unsigned char)back[i] != guard_pattern()[i]) last = i;
    return format("bytes %zu to %zu past the end of %s were overwritten", b, last, describe(a).c_str());
  }
  return "";
}

void remember_freed(Context* c, const Allocation& a) {
  constexpr size_t kKeep = 4096;
  if (c->freed.size() >= kKeep) {
    // Forget the oldest (lowest serial).
    auto oldest = c->freed.begin();
    for (auto it = c->freed.begin(); it != c->freed.end(); ++it)
      if (it->second.serial < oldest->second.serial) oldest = it;
    c->freed.erase(oldest);
  }
  Allocation f = a;
  f.raw = nullptr;
  c->freed[a.base] = f;
}

// containing returns the allocation of m whose [base, base+size] holds p (the end counts:
// an empty range may sit there), or null.
const Allocation* containing(const std::map<uintptr_t, Allocation>& m, uintptr_t p) {
  auto it = m.upper_bound(p);
  if (it == m.begin()) return nullptr;
  --it;
  const Allocation& a = it->second;
  if (p - a.base <= a.size) return &a;
  return nullptr;
}

}  // namespace

std::string describe(const Allocation& a) {
  return format("allocation #%llu (%zu bytes at 0x%llx)", a.serial, a.size, (unsigned long long)a.base);
}

const Allocation* find_range(Context* c, uintptr_t p, size_t bytes, std::string* why) {
  const Allocation* a = containing(c->allocs, p);
  if (a && bytes <= a->size - (p - a->base) && (p < a->base + a->size || bytes == 0)) return a;
  if (a) {
    size_t off = p - a->base;
    *why = format("the %zu bytes at 0x%llx run %zu bytes past the end of %s (they start at offset %zu)", bytes,
                  (unsigned long long)p, off + bytes - a->size, describe(*a).c_str(), off);
    return nullptr;
  }
  if (const Allocation* f = containing(c->freed, p)) {
    *why = format("0x%llx points into %s, which was freed", (unsigned long long)p, describe(*f).c_str());
    return nullptr;
  }
  *why = format("0x%llx is not inside any device allocation", (unsigned long long)p);
  if (p == 0) *why = "the pointer is NULL";
  return nullptr;
}

std::string check_guards(Context* c) {
  for (const auto& kv : c->allocs) {
    std::string d = guard_damage(kv.second);
    if (!d.empty()) return d;
  }
  return "";
}

void free_all(Context* c) {
  for (auto& kv : c->allocs) free(kv.second.raw);
  c->allocs.clear();
  c->freed.clear();
  c->allocated = 0;
}

}  // namespace emu

using namespace emu;

namespace {

// copy_done checks every guard after a copy; a broken one makes the context sticky.
CUresult copy_done(Call& call, Context* c) {
  std::string damage = check_guards(c);
  if (!damage.empty())
    return call.make_sticky(c, CUDA_ERROR_ILLEGAL_ADDRESS,
                            damage + " (found after this copy; host code wrote through a device pointer)");
  return CUDA_SUCCESS;
}

CUresult range(Call& call, Context* c, const char* what, CUdeviceptr p, size_t bytes) {
  std::string why;
  if (find_range(c, uintptr_t(p), bytes, &why)) return CUDA_SUCCESS;
  return call.fail(CUDA_ERROR_INVALID_VALUE, format("%s: %s", what, why.c_str()));
}

}  // namespace

extern "C" {

EMU_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  Call call("cuMemAlloc_v2");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  if (!dptr) return call.fail(CUDA_ERROR_INVALID_VALUE, "dptr is NULL");
  if (bytesize == 0) return call.fail(CUDA_ERROR_INVALID_VALUE, "bytesize is 0");
  size_t charged = round_up(bytesize, 256);
  if (bytesize > kTotalMemory || charged > kTotalMemory - c->allocated)
    return call.fail(CUDA_ERROR_OUT_OF_MEMORY,
                     format("%zu bytes requested, %zu of %zu free", bytesize, kTotalMemory - c->allocated, kTotalMemory));
  size_t total = kFrontGuard + round_up(bytesize + kBackGuard, 256);
  char* raw = static_cast<char*>(aligned_alloc(256, total));
  if (!raw)
    return call.fail(CUDA_ERROR_OUT_OF_MEMORY, format("the host could not allocate %zu bytes", total));
  memcpy(raw, guard_pattern(), kFrontGuard);
  memset(raw + kFrontGuard, 0xFF, bytesize);
  memcpy(raw + kFrontGuard + bytesize, guard_pattern(), kBackGuard);
  Allocation a;
  a.raw = raw;
  a.base = reinterpret_cast<uintptr_t>(raw + kFrontGuard);
  a.size = bytesize;
  a.serial = c->next_serial++;
  c->allocs[a.base] = a;
  c->freed.erase(a.base);
  c->allocated += charged;
  *dptr = CUdeviceptr(a.base);
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) {
  Call call("cuMemFree_v2");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  auto it = c->allocs.find(uintptr_t(dptr));
  if (it == c->allocs.end()) {
    std::string why;
    if (find_range(c, uintptr_t(dptr), 0, &why))
      why = format("0x%llx points inside an allocation, not at its start", dptr);
    return call.fail(CUDA_ERROR_INVALID_VALUE, why);
  }
  Allocation a = it->second;
  std::string damage = guard_damage(a);
  c->allocs.erase(it);
  c->allocated -= round_up(a.size, 256);
  remember_freed(c, a);
  // Freed memory is 0xFF too, so a read through a stale pointer sees NaN.
  memset(a.raw, 0xFF, kFrontGuard + a.size);
  free(a.raw);
  if (!damage.empty()) return call.make_sticky(c, CUDA_ERROR_ILLEGAL_ADDRESS, damage + " (found when it was freed)");
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  Call call("cuMemGetInfo_v2");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  if (!free_bytes || !total) return call.fail(CUDA_ERROR_INVALID_VALUE, "free or total is NULL");
  *free_bytes = kTotalMemory - c->allocated;
  *total = kTotalMemory;
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t bytes) {
  Call call("cuMemcpyHtoD_v2");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  if (bytes == 0) return CUDA_SUCCESS;
  if (!src) return call.fail(CUDA_ERROR_INVALID_VALUE, "src is NULL");
  if (CUresult r = range(call, c, "destination", dst, bytes)) return r;
  memmove(reinterpret_cast<void*>(dst), src, bytes);
  return copy_done(call, c);
}

EMU_EXPORT CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t bytes) {
  Call call("cuMemcpyDtoH_v2");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  if (bytes == 0) return CUDA_SUCCESS;
  if (!dst) return call.fail(CUDA_ERROR_INVALID_VALUE, "dst is NULL");
  if (CUresult r = range(call, c, "source", src, bytes)) return r;
  memmove(dst, reinterpret_cast<const void*>(src), bytes);
  return copy_done(call, c);
}

EMU_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  Call call("cuMemcpyDtoD_v2");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  if (bytes == 0) return CUDA_SUCCESS;
  if (CUresult r = range(call, c, "destination", dst, bytes)) return r;
  if (CUresult r = range(call, c, "source", src, bytes)) return r;
  memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
  return copy_done(call, c);
}

EMU_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t n) {
  Call call("cuMemsetD8_v2");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (CUresult r = range(call, c, "destination", dst, n)) return r;
  memset(reinterpret_cast<void*>(dst), value, n);
  return copy_done(call, c);
}

EMU_EXPORT CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned int value, size_t n) {
  Call call("cuMemsetD32_v2");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  if (n == 0) return CUDA_SUCCESS;
  if (dst % 4 != 0) return call.fail(CUDA_ERROR_INVALID_VALUE, format("0x%llx is not 4-byte aligned", dst));
  if (n > SIZE_MAX / 4) return call.fail(CUDA_ERROR_INVALID_VALUE, format("%zu words overflow", n));
  if (CUresult r = range(call, c, "destination", dst, n * 4)) return r;
  unsigned int* p = reinterpret_cast<unsigned int*>(dst);
  for (size_t i = 0; i < n; i++) p[i] = value;
  return copy_done(call, c);
}

}  // extern "C"
