//go:build linux

package cuda

import "fmt"

// api holds the C entry points of the libraries, bound once per process that opens a device.
type api struct {
	driverLib, blasLib, nvrtcLib, ffiLib, libcLib loaded

	// CUDA driver API (names as the headers map them, _v2 where they do).
	cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName, cuDeviceGetAttribute,
	cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease, cuCtxSetCurrent,
	cuCtxSynchronize, cuMemAlloc, cuMemFree, cuMemGetInfo, cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoD,
	cuMemsetD8, cuMemsetD32, cuModuleLoadData, cuModuleGetFunction, cuFuncSetAttribute,
	cuLaunchKernel, cuGetErrorString, cuGetErrorName uintptr
	// emuLastError is the emulator's description of its last failure (0 for a real driver).
	emuLastError uintptr

	// cuBLAS.
	cublasCreate, cublasDestroy, cublasSetStream, cublasSetMathMode, cublasSetWorkspace,
	cublasGetVersion, cublasSgemm, cublasGemmEx, cublasGemmStridedBatchedEx uintptr

	// NVRTC.
	nvrtcVersion, nvrtcGetErrorString, nvrtcCreateProgram, nvrtcCompileProgram, nvrtcGetProgramLogSize,
	nvrtcGetProgramLog, nvrtcGetCUBINSize, nvrtcGetCUBIN, nvrtcGetPTXSize, nvrtcGetPTX,
	nvrtcDestroyProgram uintptr

	// libffi and libc.
	ffiPrepCif, ffiCall, ffiTypePointer, ffiTypeSint32, ffiTypeSint64 uintptr
	malloc, free                                                      uintptr
}

// bind resolves each (pointer, symbol) pair in l.
func bind(l loaded, pairs ...any) error {
	for i := 0; i < len(pairs); i += 2 {
		p, err := l.sym(pairs[i+1].(string))
		if err != nil {
			return err
		}
		*pairs[i].(*uintptr) = p
	}
	return nil
}

// loadAPI finds and binds every library. The error is one line naming what is missing.
func loadAPI(libDir string) (*api, error) {
	dirs := searchDirs(libDir)
	a := &api{}
	var err error
	if a.driverLib, err = open(libDriver, dirs); err != nil {
		return nil, err
	}
	if err := bind(a.driverLib,
		&a.cuInit, "cuInit", &a.cuDriverGetVersion, "cuDriverGetVersion", &a.cuDeviceGetCount, "cuDeviceGetCount",
		&a.cuDeviceGet, "cuDeviceGet", &a.cuDeviceGetName, "cuDeviceGetName", &a.cuDeviceGetAttribute, "cuDeviceGetAttribute",
		&a.cuDeviceTotalMem, "cuDeviceTotalMem_v2", &a.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain",
		&a.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", &a.cuCtxSetCurrent, "cuCtxSetCurrent",
		&a.cuCtxSynchronize, "cuCtxSynchronize", &a.cuMemAlloc, "cuMemAlloc_v2", &a.cuMemFree, "cuMemFree_v2",
		&a.cuMemGetInfo, "cuMemGetInfo_v2", &a.cuMemcpyHtoD, "cuMemcpyHtoD_v2", &a.cuMemcpyDtoH, "cuMemcpyDtoH_v2",
		&a.cuMemcpyDtoD, "cuMemcpyDtoD_v2", &a.cuMemsetD8, "cuMemsetD8_v2", &a.cuMemsetD32, "cuMemsetD32_v2",
		&a.cuModuleLoadData, "cuModuleLoadData", &a.cuModuleGetFunction, "cuModuleGetFunction",
		&a.cuFuncSetAttribute, "cuFuncSetAttribute", &a.cuLaunchKernel, "cuLaunchKernel",
		&a.cuGetErrorString, "cuGetErrorString", &a.cuGetErrorName, "cuGetErrorName"); err != nil {
		return nil, fmt.Errorf("the NVIDIA driver at %s is too old or not a CUDA driver: %w", a.driverLib.path, err)
	}
	a.emuLastError, _ = a.driverLib.sym("emuLastError")
	if a.blasLib, err = open(libBLAS, dirs); err != nil {
		return nil, err
	}
	if err := bind(a.blasLib,
		&a.cublasCreate, "cublasCreate_v2", &a.cublasDestroy, "cublasDestroy_v2", &a.cublasSetStream, "cublasSetStream_v2",
		&a.cublasSetMathMode, "cublasSetMathMode", &a.cublasSetWorkspace, "cublasSetWorkspace_v2",
		&a.cublasGetVersion, "cublasGetVersion_v2", &a.cublasSgemm, "cublasSgemm_v2", &a.cublasGemmEx, "cublasGemmEx",
		&a.cublasGemmStridedBatchedEx, "cublasGemmStridedBatchedEx"); err != nil {
		return nil, err
	}
	if a.nvrtcLib, err = open(libNVRTC, dirs); err != nil {
		return nil, err
	}
	if err := bind(a.nvrtcLib,
		&a.nvrtcVersion, "nvrtcVersion", &a.nvrtcGetErrorString, "nvrtcGetErrorString",
		&a.nvrtcCreateProgram, "nvrtcCreateProgram", &a.nvrtcCompileProgram, "nvrtcCompileProgram",
		&a.nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize", &a.nvrtcGetProgramLog, "nvrtcGetProgramLog",
		&a.nvrtcGetCUBINSize, "nvrtcGetCUBINSize", &a.nvrtcGetCUBIN, "nvrtcGetCUBIN",
		&a.nvrtcGetPTXSize, "nvrtcGetPTXSize", &a.nvrtcGetPTX, "nvrtcGetPTX",
		&a.nvrtcDestroyProgram, "nvrtcDestroyProgram"); err != nil {
		return nil, err
	}
	if a.ffiLib, err = open(libFFI, dirs); err != nil {
		return nil, fmt.Errorf("%w (libffi calls cuBLAS's bf16 products, which take more arguments than a direct call can pass)", err)
	}
	if err := bind(a.ffiLib, &a.ffiPrepCif, "ffi_prep_cif", &a.ffiCall, "ffi_call",
		&a.ffiTypePointer, "ffi_type_pointer", &a.ffiTypeSint32, "ffi_type_sint32", &a.ffiTypeSint64, "ffi_type_sint64"); err != nil {
		return nil, err
	}
	if a.libcLib, err = open(library{"the C library", []string{"libc.so.6"}, nil}, nil); err != nil {
		return nil, err
	}
	if err := bind(a.libcLib, &a.malloc, "malloc", &a.free, "free"); err != nil {
		return nil, err
	}
	return a, nil
}

// cuError formats a failed CUresult with the driver's name and description of it (and the
// emulator's own message when the driver is the emulator).
func (a *api) cuError(what string, r int32) error {
	c := newCMem(a, 16)
	defer c.release()
	name, desc := "", ""
	if status(call(a.cuGetErrorName, uintptr(r), c.ptr(0))) == 0 {
		name = cString(uintptr(c.u64(0)))
	}
	if status(call(a.cuGetErrorString, uintptr(r), c.ptr(8))) == 0 {
		desc = cString(uintptr(c.u64(8)))
	}
	msg := fmt.Sprintf("%s: CUDA error %d", what, r)
	if name != "" {
		msg += " " + name
	}
	if desc != "" {
		msg += " (" + desc + ")"
	}
	if a.emuLastError != 0 {
		if e := cString(call(a.emuLastError)); e != "" {
			msg += ": " + e
		}
	}
	return fmt.Errorf("%s", msg)
}
