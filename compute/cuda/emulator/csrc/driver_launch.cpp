// driver_launch.cpp: modules, functions and kernel launches of the fake driver. A module image
// is what the fake NVRTC produced (a shared object, wrapped; see image.h); loading it writes
// it to a private temporary file and dlopens that. A launch checks its geometry and
// arguments as a GPU would, runs the grid (fibers.cpp), then checks every allocation's guards.
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_internal.h"
#include "image.h"

namespace emu {

void unload_all(Context* c) {
  for (Module* m : c->modules) {
    for (auto& kv : m->functions) kv.second->live = false;
    if (m->live && m->dl) dlclose(m->dl);
    m->live = false;
  }
  c->modules.clear();
}

}  // namespace emu

using namespace emu;

namespace {

// split_params splits a parameter list at its top-level commas.
std::vector<std::string> split_params(const char* list) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (const char* p = list ? list : ""; *p; p++) {
    char ch = *p;
    if (ch == '(' || ch == '<' || ch == '[') depth++;
    if (ch == ')' || ch == '>' || ch == ']') depth--;
    if (ch == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    if (cur.empty() && (ch == ' ' || ch == '\t' || ch == '\n')) continue;
    cur += ch;
  }
  while (!cur.empty() && (cur.back() == ' ' || cur.back() == '\t' || cur.back() == '\n')) cur.pop_back();
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string dims(emu_uint3 d) { return format("(%u,%u,%u)", d.x, d.y, d.z); }

std::string param_name(const Function* f, int i) {
  if (size_t(i) < f->params.size()) return format("argument %d (%s)", i, f->params[size_t(i)].c_str());
  return format("argument %d", i);
}

Module* live_module(CUmodule m) {
  Driver& d = driver();
  if (!d.modules.count(m)) return nullptr;
  Module* mod = reinterpret_cast<Module*>(m);
  return mod->live ? mod : nullptr;
}

Function* live_function(CUfunction f) {
  Driver& d = driver();
  if (!d.functions.count(f)) return nullptr;
  Function* fn = reinterpret_cast<Function*>(f);
  return fn->live ? fn : nullptr;
}

}  // namespace

extern "C" {

EMU_EXPORT CUresult cuModuleLoadData(CUmodule* module, const void* image) {
  Call call("cuModuleLoadData");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  if (!module || !image) return call.fail(CUDA_ERROR_INVALID_VALUE, "module or image is NULL");
  std::string so, why;
  if (!decode_image(image, &so, &why)) return call.fail(CUDA_ERROR_INVALID_IMAGE, why);
  const char* tmp = getenv("TMPDIR");
  std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/ordermerge-emu-module-XXXXXX";
  int fd = mkstemp(&path[0]);
  if (fd < 0) return call.fail(CUDA_ERROR_INVALID_IMAGE, format("cannot create %s: %s", path.c_str(), strerror(errno)));
  size_t done = 0;
  while (done < so.size()) {
    ssize_t w = write(fd, so.data() + done, so.size() - done);
    if (w <= 0) {
      close(fd);
      unlink(path.c_str());
      return call.fail(CUDA_ERROR_INVALID_IMAGE, format("cannot write %s: %s", path.c_str(), strerror(errno)));
    }
    done += size_t(w);
  }
  close(fd);
  // RTLD_LOCAL: every load is its own instance (its own __shared__ and module state).
  void* dl = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  std::string dlerr = dl ? "" : dlerror();
  unlink(path.c_str());  // the mapping stays; nothing is left on disk
  if (!dl) return call.fail(CUDA_ERROR_INVALID_IMAGE, "cannot load the module: " + dlerr);
  auto* info = static_cast<const emu_module_info*>(dlsym(dl, "emu_module"));
  if (!info || info->abi_version != EMU_ABI_VERSION) {
    dlclose(dl);
    return call.fail(CUDA_ERROR_INVALID_IMAGE, format("the module was not compiled against this emulator's "
                                                      "cuda_emu.h (ABI version %d wanted)",
                                                      EMU_ABI_VERSION));
  }
  Module* m = new Module;
  m->dl = dl;
  m->info = info;
  c->modules.push_back(m);
  driver().modules.insert(m);
  *module = reinterpret_cast<CUmodule>(m);
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuModuleUnload(CUmodule module) {
  Call call("cuModuleUnload");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  Module* m = live_module(module);
  if (!m) return call.fail(CUDA_ERROR_INVALID_HANDLE, "not a loaded module");
  for (auto& kv : m->functions) kv.second->live = false;
  dlclose(m->dl);
  m->live = false;
  for (size_t i = 0; i < c->modules.size(); i++)
    if (c->modules[i] == m) c->modules.erase(c->modules.begin() + long(i));
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuModuleGetFunction(CUfunction* fn, CUmodule module, const char* name) {
  Call call("cuModuleGetFunction");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  if (!fn || !name) return call.fail(CUDA_ERROR_INVALID_VALUE, "fn or name is NULL");
  Module* m = live_module(module);
  if (!m) return call.fail(CUDA_ERROR_INVALID_HANDLE, "not a loaded module");
  auto it = m->functions.find(name);
  if (it != m->functions.end()) {
    *fn = reinterpret_cast<CUfunction>(it->second);
    return CUDA_SUCCESS;
  }
  auto* k = static_cast<const emu_kernel_info*>(dlsym(m->dl, (std::string("emu_kernel_") + name).c_str()));
  if (!k)
    return call.fail(CUDA_ERROR_NOT_FOUND, format("the module has no kernel %s (kernels are the source's "
                                                  "`extern \"C\" __global__ void NAME(` functions)",
                                                  name));
  if (k->abi_version != EMU_ABI_VERSION)
    return call.fail(CUDA_ERROR_INVALID_IMAGE, format("kernel %s was compiled for another emulator ABI", name));
  Function* f = new Function;
  f->module = m;
  f->kernel = k;
  f->params = split_params(k->params);
  m->functions[name] = f;
  driver().functions.insert(f);
  *fn = reinterpret_cast<CUfunction>(f);
  return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuFuncSetAttribute(CUfunction fn, int attrib, int value) {
  Call call("cuFuncSetAttribute");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  Function* f = live_function(fn);
  if (!f) return call.fail(CUDA_ERROR_INVALID_HANDLE, "not a function of a loaded module");
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
      if (value < 0 || value > kMaxSharedPerBlockOptin)
        return call.fail(CUDA_ERROR_INVALID_VALUE,
                         format("%s: %d bytes of dynamic shared memory asked, the limit is %d", f->kernel->name, value,
                                kMaxSharedPerBlockOptin));
      f->max_dynamic_shared = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
      if (value < -1 || value > 100)
        return call.fail(CUDA_ERROR_INVALID_VALUE, format("carveout %d is not -1 or a percentage", value));
      f->carveout = value;
      return CUDA_SUCCESS;
  }
  return call.fail(CUDA_ERROR_INVALID_VALUE, format("function attribute %d cannot be set (or is not emulated)", attrib));
}

EMU_EXPORT CUresult cuFuncGetAttribute(int* pi, int attrib, CUfunction fn) {
  Call call("cuFuncGetAttribute");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  if (!pi) return call.fail(CUDA_ERROR_INVALID_VALUE, "pi is NULL");
  Function* f = live_function(fn);
  if (!f) return call.fail(CUDA_ERROR_INVALID_HANDLE, "not a function of a loaded module");
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = kMaxThreadsPerBlock; return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = 0; return CUDA_SUCCESS;  // not known per kernel
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *pi = 0; return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = 0; return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = 32; return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = 90; return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = 90; return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = f->max_dynamic_shared; return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *pi = f->carveout; return CUDA_SUCCESS;
  }
  return call.fail(CUDA_ERROR_INVALID_VALUE, format("function attribute %d is not emulated", attrib));
}

EMU_EXPORT CUresult cuLaunchKernel(CUfunction fn, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                                   unsigned int by, unsigned int bz, unsigned int shared, CUstream stream,
                                   void** params, void** extra) {
  Call call("cuLaunchKernel");
  Context* c;
  if (CUresult r = call.context(&c)) return r;
  Function* f = live_function(fn);
  if (!f) return call.fail(CUDA_ERROR_INVALID_HANDLE, "not a function of a loaded module");
  const emu_kernel_info* k = f->kernel;
  emu_uint3 grid{gx, gy, gz}, block{bx, by, bz};
  std::string where = format("kernel %s, grid %s, block %s", k->name, dims(grid).c_str(), dims(block).c_str());
  if (stream != nullptr && stream != CU_STREAM_LEGACY && stream != CU_STREAM_PER_THREAD)
    return call.fail(CUDA_ERROR_INVALID_HANDLE, where + ": the emulator has only the default stream (NULL)");
  if (extra != nullptr)
    return call.fail(CUDA_ERROR_INVALID_VALUE, where + ": pass arguments through kernelParams; extra must be NULL");
  if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0)
    return call.fail(CUDA_ERROR_INVALID_VALUE, where + ": a grid or block dimension is 0");
  if (bx > 1024 || by > 1024 || bz > 64)
    return call.fail(CUDA_ERROR_INVALID_VALUE, where + ": block dimensions are limited to (1024,1024,64)");
  if (uint64_t(bx) * by * bz > uint64_t(kMaxThreadsPerBlock))
    return call.fail(CUDA_ERROR_INVALID_VALUE,
                     where + format(": %llu threads per block, the limit is %d", (unsigned long long)bx * by * bz,
                                    kMaxThreadsPerBlock));
  if (gx > 2147483647u || gy > 65535 || gz > 65535)
    return call.fail(CUDA_ERROR_INVALID_VALUE, where + ": grid dimensions are limited to (2147483647,65535,65535)");
  if (int64_t(shared) > int64_t(f->max_dynamic_shared))
    return call.fail(CUDA_ERROR_INVALID_VALUE,
                     where + format(": %u bytes of dynamic shared memory, the limit set for the kernel is %d (raise "
                                    "it with cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), up "
                                    "to %d)",
                                    shared, f->max_dynamic_shared, kMaxSharedPerBlockOptin));
  if (k->nargs > 0 && params == nullptr)
    return call.fail(CUDA_ERROR_INVALID_VALUE, where + format(": kernelParams is NULL; the kernel takes %d arguments", k->nargs));
  for (int i = 0; i < k->nargs; i++) {
    if (params[i] == nullptr)
      return call.fail(CUDA_ERROR_INVALID_VALUE, where + ": kernelParams[" + std::to_string(i) + "] is NULL (" +
                                                     param_name(f, i) + ")");
    if (!k->arg_is_pointer[i]) continue;
    uintptr_t p;
    memcpy(&p, params[i], sizeof p);
    std::string why;
    if (p != 0 && !find_range(c, p, 0, &why))
      return call.fail(CUDA_ERROR_INVALID_VALUE, where + ": " + param_name(f, i) + ": " + why);
  }
  Grid g;
  g.fn = f;
  g.grid = grid;
  g.block = block;
  g.dynamic_shared = shared;
  g.params = params;
  std::string msg;
  if (CUresult r = run_grid(g, &msg)) return call.make_sticky(c, r, where + ": " + msg);
  std::string damage = check_guards(c);
  if (!damage.empty()) {
    // Name the arguments that point into the damaged allocation.
    std::string args;
    for (int i = 0; i < k->nargs; i++) {
      if (!k->arg_is_pointer[i]) continue;
      uintptr_t p;
      memcpy(&p, params[i], sizeof p);
      std::string why;
      const Allocation* a = p ? find_range(c, p, 0, &why) : nullptr;
      if (a && damage.find(describe(*a)) != std::string::npos) args += (args.empty() ? "" : ", ") + param_name(f, i);
    }
    if (!args.empty()) damage += "; it is passed as " + args;
    return call.make_sticky(c, CUDA_ERROR_ILLEGAL_ADDRESS, where + " wrote out of bounds: " + damage);
  }
  return CUDA_SUCCESS;
}

}  // extern "C"
