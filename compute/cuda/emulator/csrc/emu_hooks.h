/* emu_hooks.h: what the fake driver exports for the fake cuBLAS (not part of any CUDA API). */
#ifndef ORDERMERGE_EMU_HOOKS_H
#define ORDERMERGE_EMU_HOOKS_H

#include "emu_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* emuInternalBegin takes the driver lock and returns the context's sticky error, or
 * CUDA_ERROR_NOT_INITIALIZED / CUDA_ERROR_INVALID_CONTEXT, or CUDA_SUCCESS (with why set
 * otherwise). Every call is paired with emuInternalEnd, which releases the lock. */
EMU_EXPORT int emuInternalBegin(char* why, size_t cap);
EMU_EXPORT void emuInternalEnd(void);
/* emuInternalCheckRange (lock held) returns 0 when [p, p+bytes) lies in one allocation of the
 * calling thread's current context (else the primary context), else 1 with why set. */
EMU_EXPORT int emuInternalCheckRange(const void* p, size_t bytes, char* why, size_t cap);
/* emuInternalSetLastError records text as emuLastError's and prints it to stderr. */
EMU_EXPORT void emuInternalSetLastError(const char* text);

#ifdef __cplusplus
}
#endif

#endif
