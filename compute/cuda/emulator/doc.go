// Package emulator builds fake CUDA libraries that run the CUDA device's whole code path on
// the CPU, so it is tested where there is no GPU: a driver (libcuda.so.1), cuBLAS
// (libcublas.so.13) and NVRTC (libnvrtc.so.13) with the real libraries' C ABI. The CUDA device
// loads them with dlopen like the real ones, from the folder Build wrote.
//
// The fake NVRTC compiles a kernel source with g++ against cuda_emu.h, a header that
// emulates CUDA's grid, block, thread, shared-memory and warp model (threads of a block are
// fibers on one OS thread); the fake driver loads the result and runs kernels block by block;
// the fake cuBLAS multiplies on the CPU with cuBLAS's conventions and precisions. All three
// make bugs visible: memory starts as NaN, allocations are guarded, copies and products are
// checked against allocations, and barriers that cannot complete fail the launch. README.md
// lists the CUDA C dialect kernels may use and everything the fakes check.
//
// The libraries need g++ (Debian package g++) at build time, and the fake NVRTC needs it when
// it compiles.
package emulator
