/* emu_api.h: the C interface of the fake CUDA driver, cuBLAS and NVRTC, declared by hand
 * (no CUDA headers are needed anywhere). Names, numeric values and signatures are those of
 * NVIDIA's APIs, for the subset ordermerge uses; the emulator's own additions start with emu.
 */
#ifndef ORDERMERGE_EMU_API_H
#define ORDERMERGE_EMU_API_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EMU_EXPORT __attribute__((visibility("default")))
#else
#define EMU_EXPORT
#endif

/* ---- Driver API ---- */

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st* CUcontext;
typedef struct CUmod_st* CUmodule;
typedef struct CUfunc_st* CUfunction;
typedef struct CUstream_st* CUstream;

enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_INVALID_DEVICE = 101,
  CUDA_ERROR_INVALID_IMAGE = 200,
  CUDA_ERROR_INVALID_CONTEXT = 201,
  CUDA_ERROR_INVALID_HANDLE = 400,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_ILLEGAL_ADDRESS = 700,
  CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
  CUDA_ERROR_LAUNCH_FAILED = 719,
  CUDA_ERROR_NOT_SUPPORTED = 801,
  CUDA_ERROR_UNKNOWN = 999
};

/* CUdevice_attribute values the emulator answers. */
enum {
  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
  CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X = 2,
  CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y = 3,
  CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z = 4,
  CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5,
  CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y = 6,
  CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z = 7,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
  CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY = 9,
  CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10,
  CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK = 12,
  CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13,
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_INTEGRATED = 18,
  CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS = 31,
  CU_DEVICE_ATTRIBUTE_ECC_ENABLED = 32,
  CU_DEVICE_ATTRIBUTE_PCI_BUS_ID = 33,
  CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID = 34,
  CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36,
  CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37,
  CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38,
  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR = 39,
  CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING = 41,
  CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID = 50,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81,
  CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR = 82,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
  CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR = 106
};

/* CUfunction_attribute values. */
enum {
  CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0,
  CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1,
  CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES = 2,
  CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES = 3,
  CU_FUNC_ATTRIBUTE_NUM_REGS = 4,
  CU_FUNC_ATTRIBUTE_PTX_VERSION = 5,
  CU_FUNC_ATTRIBUTE_BINARY_VERSION = 6,
  CU_FUNC_ATTRIBUTE_CACHE_MODE_CA = 7,
  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
  CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT = 9
};

#define CU_STREAM_LEGACY ((CUstream)0x1)
#define CU_STREAM_PER_THREAD ((CUstream)0x2)

EMU_EXPORT CUresult cuInit(unsigned int flags);
EMU_EXPORT CUresult cuDriverGetVersion(int* version);
EMU_EXPORT CUresult cuDeviceGetCount(int* count);
EMU_EXPORT CUresult cuDeviceGet(CUdevice* device, int ordinal);
EMU_EXPORT CUresult cuDeviceGetName(char* name, int len, CUdevice dev);
EMU_EXPORT CUresult cuDeviceGetAttribute(int* pi, int attrib, CUdevice dev);
EMU_EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev);
EMU_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev);
EMU_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev);
EMU_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx);
EMU_EXPORT CUresult cuCtxGetCurrent(CUcontext* pctx);
EMU_EXPORT CUresult cuCtxSynchronize(void);
EMU_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize);
EMU_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr);
EMU_EXPORT CUresult cuMemGetInfo_v2(size_t* free, size_t* total);
EMU_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t bytes);
EMU_EXPORT CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t bytes);
EMU_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes);
EMU_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t n);
EMU_EXPORT CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned int value, size_t n);
EMU_EXPORT CUresult cuModuleLoadData(CUmodule* module, const void* image);
EMU_EXPORT CUresult cuModuleUnload(CUmodule module);
EMU_EXPORT CUresult cuModuleGetFunction(CUfunction* fn, CUmodule module, const char* name);
EMU_EXPORT CUresult cuFuncSetAttribute(CUfunction fn, int attrib, int value);
EMU_EXPORT CUresult cuFuncGetAttribute(int* pi, int attrib, CUfunction fn);
EMU_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                   unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                   unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream stream,
                                   void** kernelParams, void** extra);
EMU_EXPORT CUresult cuStreamSynchronize(CUstream stream);
EMU_EXPORT CUresult cuGetErrorString(CUresult error, const char** str);
EMU_EXPORT CUresult cuGetErrorName(CUresult error, const char** str);

/* The emulator's description of its last failure in this process ("" if none): which call,
 * what was wrong, which allocation, kernel, block or thread. Also printed to stderr (unless
 * ORDERMERGE_EMU_QUIET=1). The pointer stays valid until the calling thread calls it again. */
EMU_EXPORT const char* emuLastError(void);
/* The number of fiber switches of every launch so far (for measuring the emulator). */
EMU_EXPORT unsigned long long emuFiberSwitches(void);

/* ---- cuBLAS ---- */

typedef struct cublasContext* cublasHandle_t;
typedef int cublasStatus_t;

enum {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_ARCH_MISMATCH = 8,
  CUBLAS_STATUS_MAPPING_ERROR = 11,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_INTERNAL_ERROR = 14,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
  CUBLAS_STATUS_LICENSE_ERROR = 16
};

enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };
enum { CUBLAS_POINTER_MODE_HOST = 0, CUBLAS_POINTER_MODE_DEVICE = 1 };
enum {
  CUBLAS_DEFAULT_MATH = 0,
  CUBLAS_TENSOR_OP_MATH = 1,
  CUBLAS_PEDANTIC_MATH = 2,
  CUBLAS_TF32_TENSOR_OP_MATH = 3,
  CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16
};
/* cudaDataType */
enum { CUDA_R_32F = 0, CUDA_R_64F = 1, CUDA_R_16F = 2, CUDA_R_16BF = 14 };
/* cublasComputeType_t */
enum {
  CUBLAS_COMPUTE_16F = 64,
  CUBLAS_COMPUTE_32F = 68,
  CUBLAS_COMPUTE_32F_PEDANTIC = 69,
  CUBLAS_COMPUTE_64F = 70,
  CUBLAS_COMPUTE_32F_FAST_16F = 74,
  CUBLAS_COMPUTE_32F_FAST_16BF = 75,
  CUBLAS_COMPUTE_32F_FAST_TF32 = 77
};
enum { CUBLAS_GEMM_DEFAULT = -1, CUBLAS_GEMM_DEFAULT_TENSOR_OP = 99 };

EMU_EXPORT cublasStatus_t cublasCreate_v2(cublasHandle_t* handle);
EMU_EXPORT cublasStatus_t cublasDestroy_v2(cublasHandle_t handle);
EMU_EXPORT cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, CUstream stream);
EMU_EXPORT cublasStatus_t cublasSetMathMode(cublasHandle_t handle, int mode);
EMU_EXPORT cublasStatus_t cublasGetMathMode(cublasHandle_t handle, int* mode);
EMU_EXPORT cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, int mode);
EMU_EXPORT cublasStatus_t cublasGetPointerMode_v2(cublasHandle_t handle, int* mode);
EMU_EXPORT cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace, size_t bytes);
EMU_EXPORT cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int* version);
EMU_EXPORT const char* cublasGetStatusString(cublasStatus_t status);
EMU_EXPORT const char* cublasGetStatusName(cublasStatus_t status);
EMU_EXPORT cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, int transa, int transb, int m, int n, int k,
                                         const float* alpha, const float* A, int lda, const float* B, int ldb,
                                         const float* beta, float* C, int ldc);
EMU_EXPORT cublasStatus_t cublasGemmEx(cublasHandle_t handle, int transa, int transb, int m, int n, int k,
                                       const void* alpha, const void* A, int Atype, int lda, const void* B,
                                       int Btype, int ldb, const void* beta, void* C, int Ctype, int ldc,
                                       int computeType, int algo);
EMU_EXPORT cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, int transa, int transb, int m, int n,
                                                     int k, const void* alpha, const void* A, int Atype, int lda,
                                                     long long strideA, const void* B, int Btype, int ldb,
                                                     long long strideB, const void* beta, void* C, int Ctype,
                                                     int ldc, long long strideC, int batchCount, int computeType,
                                                     int algo);

/* ---- NVRTC ---- */

typedef struct _nvrtcProgram* nvrtcProgram;
typedef int nvrtcResult;

enum {
  NVRTC_SUCCESS = 0,
  NVRTC_ERROR_OUT_OF_MEMORY = 1,
  NVRTC_ERROR_PROGRAM_CREATION_FAILURE = 2,
  NVRTC_ERROR_INVALID_INPUT = 3,
  NVRTC_ERROR_INVALID_PROGRAM = 4,
  NVRTC_ERROR_INVALID_OPTION = 5,
  NVRTC_ERROR_COMPILATION = 6,
  NVRTC_ERROR_BUILTIN_OPERATION_FAILURE = 7,
  NVRTC_ERROR_INTERNAL_ERROR = 11
};

EMU_EXPORT nvrtcResult nvrtcVersion(int* major, int* minor);
EMU_EXPORT const char* nvrtcGetErrorString(nvrtcResult result);
EMU_EXPORT nvrtcResult nvrtcCreateProgram(nvrtcProgram* prog, const char* src, const char* name, int numHeaders,
                                          const char* const* headers, const char* const* includeNames);
EMU_EXPORT nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char* const* options);
EMU_EXPORT nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t* logSizeRet);
EMU_EXPORT nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char* log);
EMU_EXPORT nvrtcResult nvrtcGetPTXSize(nvrtcProgram prog, size_t* ptxSizeRet);
EMU_EXPORT nvrtcResult nvrtcGetPTX(nvrtcProgram prog, char* ptx);
EMU_EXPORT nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t* cubinSizeRet);
EMU_EXPORT nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char* cubin);
EMU_EXPORT nvrtcResult nvrtcDestroyProgram(nvrtcProgram* prog);

#ifdef __cplusplus
}
#endif

#endif /* ORDERMERGE_EMU_API_H */
