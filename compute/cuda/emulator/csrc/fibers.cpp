// fibers.cpp: runs a grid on the calling thread. Blocks run one after another; the threads of
// a block are fibers (user-level contexts with their own stacks) that run until they meet a
// barrier, a warp operation or their end, then pass control to the next runnable fiber in
// thread order. A barrier releases its waiters when the last thread arrives; when no fiber
// can run and some have not finished, the block is deadlocked and the launch fails with the
// place every thread waits at. __trap() fails the launch at once.
//
// Fiber switching is a hand-written x86-64 context switch (callee-saved registers and the
// stack pointer, nothing else: kernels do not change floating-point modes); elsewhere, or
// with EMU_FIBER_UCONTEXT defined, it is ucontext's swapcontext. Stacks are mapped once per
// process with a guard page below each, and reused by every launch.
#include <string.h>
#include <sys/mman.h>

#include "emu_internal.h"

#if !defined(__x86_64__) && !defined(EMU_FIBER_UCONTEXT)
#define EMU_FIBER_UCONTEXT 1
#endif
#ifdef EMU_FIBER_UCONTEXT
#include <ucontext.h>
#endif

namespace emu {
namespace {

constexpr size_t kStackSize = 256 << 10;  // per thread; a kernel's locals and printf fit easily
constexpr size_t kPage = 4096;

// ---- Contexts.

#ifdef EMU_FIBER_UCONTEXT
struct Ctx {
  ucontext_t uc;
};

void ctx_make(Ctx* c, char* stack, size_t size, void (*entry)()) {
  getcontext(&c->uc);
  c->uc.uc_stack.ss_sp = stack;
  c->uc.uc_stack.ss_size = size;
  c->uc.uc_link = nullptr;
  makecontext(&c->uc, entry, 0);
}

inline void ctx_switch(Ctx* from, Ctx* to) { swapcontext(&from->uc, &to->uc); }
#else
struct Ctx {
  void* sp;
};

extern "C" void emu_fiber_switch(void** save_sp, void* new_sp);
// Saves rbp, rbx, r12-r15 on the old stack and its stack pointer in *save_sp, then restores
// the same from new_sp and returns into the new context.
asm(R"(
  .text
  .p2align 4
  .globl emu_fiber_switch
  .hidden emu_fiber_switch
  .type emu_fiber_switch, @function
emu_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_fiber_switch, .-emu_fiber_switch
)");

// ctx_make lays out a stack that emu_fiber_switch "returns" into entry with, from entry's
// view, the alignment of a call (rsp = 8 mod 16).
void ctx_make(Ctx* c, char* stack, size_t size, void (*entry)()) {
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + size) & ~uintptr_t(15);
  void** sp = reinterpret_cast<void**>(top);
  *--sp = nullptr;                           // entry's return address: it never returns
  *--sp = reinterpret_cast<void*>(entry);    // where emu_fiber_switch's ret goes
  for (int i = 0; i < 6; i++) *--sp = nullptr;  // rbp rbx r12-r15
  c->sp = sp;
}

inline void ctx_switch(Ctx* from, Ctx* to) { emu_fiber_switch(&from->sp, to->sp); }
#endif

// ---- Fibers and the scheduler.

enum State : unsigned char { kRunning, kReady, kWaitBarrier, kWaitWarp, kDone };

struct Fiber {
  Ctx ctx;
  emu_uint3 tid;
  State state;
  // Where it waits, and the warp operation it waits in.
  const char* file;
  int line;
  int kind;
  unsigned int mask;
  int arg;
  int width;
  unsigned long long value;
  unsigned long long result;
};

// Stacks, mapped on first use and kept for the process.
class Stacks {
 public:
  char* get(int i) {
    while (int(stacks_.size()) <= i) {
      size_t len = kStackSize + kPage;
      void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) return nullptr;
      mprotect(p, kPage, PROT_NONE);  // overflowing the stack faults instead of corrupting
      stacks_.push_back(static_cast<char*>(p) + kPage);
    }
    return stacks_[size_t(i)];
  }

 private:
  std::vector<char*> stacks_;
};

struct Scheduler {
  const Grid* g = nullptr;
  emu_module_state* st = nullptr;
  std::vector<Fiber> f;
  int n = 0;      // threads per block
  int cur = 0;    // the running fiber
  int ready = 0;  // fibers in kReady
  int done = 0;
  int bar_arrived = 0;
  const char* bar_file = nullptr;
  int bar_line = 0;
  Ctx host;
  bool failed = false;
  CUresult code = CUDA_SUCCESS;
  std::string msg;
  Stacks stacks;
  std::vector<char> dyn;  // dynamic shared memory, then its guard
  unsigned long long switches = 0;
};

// The launch in progress. Launches hold the driver lock, so there is one at a time.
Scheduler* S = nullptr;

Scheduler& sched() {
  static Scheduler* s = new Scheduler;
  return *s;
}

constexpr size_t kDynGuard = 256;

const char* op_name(int kind) {
  switch (kind) {
    case EMU_SYNCWARP: return "__syncwarp";
    case EMU_SHFL_IDX: return "__shfl_sync";
    case EMU_SHFL_UP: return "__shfl_up_sync";
    case EMU_SHFL_DOWN: return "__shfl_down_sync";
    case EMU_SHFL_XOR: return "__shfl_xor_sync";
    case EMU_VOTE_ALL: return "__all_sync";
    case EMU_VOTE_ANY: return "__any_sync";
    case EMU_VOTE_BALLOT: return "__ballot_sync";
  }
  return "a warp operation";
}

std::string tid_str(const emu_uint3& t) { return format("(%u,%u,%u)", t.x, t.y, t.z); }

std::string block_str() {
  const emu_uint3& b = S->st->blockIdx;
  return format("block (%u,%u,%u)", b.x, b.y, b.z);
}

std::string threads_str(int lo, int hi) {
  if (lo == hi) return format("thread %d %s", lo, tid_str(S->f[size_t(lo)].tid).c_str());
  return format("threads %d-%d", lo, hi);
}

std::string where_str(const Fiber& x) {
  switch (x.state) {
    case kRunning:
    case kReady: return "can run";
    case kDone: return "returned";
    case kWaitBarrier: return format("wait at __syncthreads() (%s:%d)", x.file, x.line);
    case kWaitWarp: return format("wait at %s (%s:%d, mask 0x%08x)", op_name(x.kind), x.file, x.line, x.mask);
  }
  return "?";
}

// states_str lists what every thread of the block does, in runs of consecutive threads
// (linear thread index x + y*blockDim.x + z*blockDim.x*blockDim.y).
std::string states_str() {
  std::string out;
  int groups = 0;
  for (int i = 0; i < S->n;) {
    std::string w = where_str(S->f[size_t(i)]);
    int j = i;
    while (j + 1 < S->n && where_str(S->f[size_t(j + 1)]) == w) j++;
    if (groups++ == 12) {
      out += "; ...";
      break;
    }
    out += (out.empty() ? "" : "; ") + threads_str(i, j) + " " + w;
    i = j + 1;
  }
  return out;
}

// fail ends the launch from inside a fiber: control goes back to run_grid, which abandons the
// block (fiber stacks hold nothing that needs freeing).
[[noreturn]] void fail(CUresult code, const std::string& msg) {
  S->failed = true;
  S->code = code;
  S->msg = block_str() + ": " + msg;
  Fiber& me = S->f[size_t(S->cur)];
  ctx_switch(&me.ctx, &S->host);
  __builtin_unreachable();
}

[[noreturn]] void deadlock(const char* why) {
  fail(CUDA_ERROR_LAUNCH_FAILED, format("deadlock: %s; %s", why, states_str().c_str()));
}

int pick_ready() {
  if (S->ready == 0) return -1;
  for (int k = 1; k <= S->n; k++) {
    int i = S->cur + k;
    if (i >= S->n) i -= S->n;
    if (S->f[size_t(i)].state == kReady) return i;
  }
  return -1;
}

// resume switches from the running fiber (whose state is already set) to fiber i.
void resume(int i) {
  Fiber& from = S->f[size_t(S->cur)];
  Fiber& to = S->f[size_t(i)];
  to.state = kRunning;
  S->ready--;
  S->cur = i;
  S->st->threadIdx = to.tid;
  S->switches++;
  ctx_switch(&from.ctx, &to.ctx);
}

// wait parks the running fiber (state already set) until it is made ready again.
void wait(const char* why) {
  int next = pick_ready();
  if (next < 0) deadlock(why);
  resume(next);
}

bool complete(int base, unsigned int mask, int running);

// fiber_main is every fiber's first frame.
void fiber_main() {
  S->g->fn->kernel->entry(S->g->params);
  Fiber& me = S->f[size_t(S->cur)];
  me.state = kDone;
  S->done++;
  if (S->bar_arrived > 0)
    fail(CUDA_ERROR_LAUNCH_FAILED,
         format("__syncthreads() at %s:%d can never complete: %s returned without reaching it (every thread of "
                "a block must reach the same __syncthreads()); %s",
                S->bar_file, S->bar_line, threads_str(S->cur, S->cur).c_str(), states_str().c_str()));
  // As on a GPU, a lane that returned no longer holds up the warp operations of its warp.
  int base = S->cur & ~31, lane = S->cur & 31;
  for (int l = 0; l < 32 && base + l < S->n; l++) {
    const Fiber& o = S->f[size_t(base + l)];
    if (o.state == kWaitWarp && (o.mask >> lane & 1u)) complete(base, o.mask, -1);
  }
  if (S->done == S->n) {
    ctx_switch(&me.ctx, &S->host);
    __builtin_unreachable();
  }
  wait("no thread can run");
  __builtin_unreachable();
}

void rt_syncthreads(const char* file, int line) {
  Fiber& me = S->f[size_t(S->cur)];
  if (S->bar_arrived > 0 && (line != S->bar_line || strcmp(file, S->bar_file) != 0))
    fail(CUDA_ERROR_LAUNCH_FAILED,
         format("divergent __syncthreads(): %s reached the one at %s:%d while others wait at %s:%d (every thread of a "
                "block must reach the same __syncthreads()); %s",
                threads_str(S->cur, S->cur).c_str(), file, line, S->bar_file, S->bar_line, states_str().c_str()));
  if (S->done > 0)
    fail(CUDA_ERROR_LAUNCH_FAILED,
         format("__syncthreads() at %s:%d can never complete: %d threads of the block returned without reaching it; %s",
                file, line, S->done, states_str().c_str()));
  if (S->bar_arrived == 0) {
    S->bar_file = file;
    S->bar_line = line;
  }
  if (++S->bar_arrived == S->n) {
    S->bar_arrived = 0;
    for (Fiber& x : S->f)
      if (x.state == kWaitBarrier) x.state = kReady;
    S->ready += S->n - 1;
    return;
  }
  me.state = kWaitBarrier;
  me.file = file;
  me.line = line;
  wait("threads wait at different barriers or warp operations");
}

bool is_shuffle(int kind) { return kind >= EMU_SHFL_IDX && kind <= EMU_SHFL_XOR; }

// shuffle_source is the lane whose value lane l reads (PTX shfl.sync: outside the lane's
// segment of width lanes, a lane reads its own value).
int shuffle_source(int kind, int l, int arg, int width) {
  int seg = l & ~(width - 1), last = seg + width - 1;
  int b = arg & 31;
  int j = l;
  bool ok = true;
  switch (kind) {
    case EMU_SHFL_IDX: j = seg | (arg & (width - 1)); break;
    case EMU_SHFL_UP: j = l - b; ok = j >= seg; break;
    case EMU_SHFL_DOWN: j = l + b; ok = j <= last; break;
    case EMU_SHFL_XOR: j = l ^ b; ok = j <= last; break;
  }
  return ok ? j : l;
}

// group_of is the lanes (as bits) of the warp starting at thread base that take part in a
// warp operation with mask: named by it, present (the last warp of a block may have fewer
// than 32 lanes) and not returned (PTX: shfl.sync waits for the non-exited threads of
// membermask).
unsigned int group_of(int base, unsigned int mask) {
  int lanes = S->n - base < 32 ? S->n - base : 32;
  unsigned int g = mask & (lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1));
  for (unsigned int x = g; x; x &= x - 1)
    if (S->f[size_t(base + __builtin_ctz(x))].state == kDone) g &= ~(1u << __builtin_ctz(x));
  return g;
}

// complete finishes the warp operation with mask in the warp at base if every lane of its
// group waits in it: each lane gets its result, and all but running (-1: none) are made
// ready. It returns whether it did.
bool complete(int base, unsigned int mask, int running) {
  unsigned int group = group_of(base, mask);
  if (group == 0) return false;
  for (unsigned int g = group; g; g &= g - 1) {
    const Fiber& o = S->f[size_t(base + __builtin_ctz(g))];
    if (o.state != kWaitWarp || o.mask != mask) return false;
  }
  int l0 = __builtin_ctz(group);
  const Fiber& first = S->f[size_t(base + l0)];
  int kind = first.kind, width = first.width;
  unsigned long long ballot = 0;
  for (unsigned int g = group; g; g &= g - 1) {
    int l = __builtin_ctz(g);
    const Fiber& o = S->f[size_t(base + l)];
    if (o.kind != kind || (is_shuffle(kind) && o.width != width))
      fail(CUDA_ERROR_LAUNCH_FAILED,
           format("lanes of a warp met at different warp operations with mask 0x%08x: lane %d at %s (%s:%d), lane %d "
                  "at %s (%s:%d)",
                  mask, l0, op_name(kind), first.file, first.line, l, op_name(o.kind), o.file, o.line));
    if (o.value) ballot |= 1ull << l;
  }
  for (unsigned int g = group; g; g &= g - 1) {
    int l = __builtin_ctz(g);
    Fiber& o = S->f[size_t(base + l)];
    if (is_shuffle(kind)) {
      int j = shuffle_source(kind, l, o.arg, width);
      // A lane that does not take part (outside the mask, past the end of a partial warp, or
      // returned) gives an undefined value on a GPU: here all one bits (NaN as a float).
      o.result = (group >> j & 1u) ? S->f[size_t(base + j)].value : ~0ull;
    } else if (kind == EMU_VOTE_BALLOT) {
      o.result = ballot;
    } else if (kind == EMU_VOTE_ALL) {
      o.result = ballot == group;
    } else if (kind == EMU_VOTE_ANY) {
      o.result = ballot != 0;
    } else {
      o.result = 0;
    }
    if (base + l != running) {
      o.state = kReady;
      S->ready++;
    }
  }
  return true;
}

unsigned long long rt_warp_op(int kind, unsigned int mask, unsigned long long value, int arg, int width,
                              const char* file, int line) {
  int me_i = S->cur;
  Fiber& me = S->f[size_t(me_i)];
  int base = me_i & ~31, lane = me_i & 31;
  if (!(mask >> lane & 1u))
    fail(CUDA_ERROR_LAUNCH_FAILED, format("%s at %s:%d: %s is lane %d of its warp, but the mask 0x%08x does not name it",
                                          op_name(kind), file, line, threads_str(me_i, me_i).c_str(), lane, mask));
  if (is_shuffle(kind) && (width < 1 || width > 32 || (width & (width - 1)) != 0))
    fail(CUDA_ERROR_LAUNCH_FAILED,
         format("%s at %s:%d: width %d is not a power of two from 1 to 32", op_name(kind), file, line, width));
  me.state = kWaitWarp;
  me.kind = kind;
  me.mask = mask;
  me.arg = arg;
  me.width = width;
  me.value = value;
  me.file = file;
  me.line = line;
  if (complete(base, mask, me_i))
    me.state = kRunning;
  else
    wait("lanes of a warp wait at different warp operations or barriers");
  return S->f[size_t(me_i)].result;
}

void rt_trap(const char* file, int line) {
  fail(CUDA_ERROR_LAUNCH_FAILED, format("__trap() at %s:%d in thread %s", file, line,
                                        tid_str(S->f[size_t(S->cur)].tid).c_str()));
}

const emu_runtime kRuntime = {rt_syncthreads, rt_warp_op, rt_trap};

}  // namespace

CUresult run_grid(const Grid& g, std::string* message) {
  Scheduler& s = sched();
  S = &s;
  s.g = &g;
  s.st = g.fn->module->info->state;
  s.n = int(g.block.x * g.block.y * g.block.z);
  s.failed = false;
  if (s.f.size() < size_t(s.n)) s.f.resize(size_t(s.n));
  for (int i = 0; i < s.n; i++) {
    if (!s.stacks.get(i)) {
      *message = "cannot map fiber stacks";
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
  }
  s.dyn.resize(g.dynamic_shared + kDynGuard + 256);
  char* dyn = s.dyn.data() + (256 - reinterpret_cast<uintptr_t>(s.dyn.data()) % 256) % 256;
  emu_module_state* st = s.st;
  st->rt = &kRuntime;
  st->blockDim = g.block;
  st->gridDim = g.grid;
  st->dynamic_shared = dyn;  // never NULL: a stray write with 0 bytes hits the guard
  const emu_module_info* mi = g.fn->module->info;
  const unsigned char* pattern = reinterpret_cast<const unsigned char*>("\x5a\xa5\x3c\xc3");
  for (unsigned int bz = 0; bz < g.grid.z; bz++) {
    for (unsigned int by = 0; by < g.grid.y; by++) {
      for (unsigned int bx = 0; bx < g.grid.x; bx++) {
        st->blockIdx = emu_uint3{bx, by, bz};
        // Shared memory starts undefined on a GPU: here 0xFF bytes (NaN as floats).
        if (mi->shared_end > mi->shared_begin) memset(mi->shared_begin, 0xFF, size_t(mi->shared_end - mi->shared_begin));
        memset(dyn, 0xFF, g.dynamic_shared);
        for (size_t i = 0; i < kDynGuard; i++) dyn[g.dynamic_shared + i] = char(pattern[i % 4]);
        for (int i = 0; i < s.n; i++) {
          Fiber& x = s.f[size_t(i)];
          unsigned int t = unsigned(i);
          x.tid = emu_uint3{t % g.block.x, (t / g.block.x) % g.block.y, t / (g.block.x * g.block.y)};
          x.state = kReady;
          ctx_make(&x.ctx, s.stacks.get(i), kStackSize, fiber_main);
        }
        s.ready = s.n - 1;
        s.done = 0;
        s.bar_arrived = 0;
        s.cur = 0;
        s.f[0].state = kRunning;
        st->threadIdx = s.f[0].tid;
        s.switches++;
        ctx_switch(&s.host, &s.f[0].ctx);
        if (s.failed) {
          *message = s.msg;
          S = nullptr;
          return s.code;
        }
        for (size_t i = 0; i < kDynGuard; i++) {
          if ((unsigned char)dyn[g.dynamic_shared + i] != pattern[i % 4]) {
            *message = format("block (%u,%u,%u) wrote past the end of its %zu bytes of dynamic shared memory (byte %zu "
                              "after it changed)",
                              bx, by, bz, g.dynamic_shared, i);
            S = nullptr;
            return CUDA_ERROR_ILLEGAL_ADDRESS;
          }
        }
      }
    }
  }
  S = nullptr;
  return CUDA_SUCCESS;
}

}  // namespace emu

// emuFiberSwitches counts the context switches of every launch so far (for the benchmark).
extern "C" EMU_EXPORT unsigned long long emuFiberSwitches(void) {
  std::lock_guard<std::mutex> g(emu::driver().mu);
  return emu::sched().switches;
}
