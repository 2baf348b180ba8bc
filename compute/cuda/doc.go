// Package cuda is the NVIDIA GPU as a compute.Device: parameters, gradients, optimizer state
// and activations in GPU memory, one kernel (or cuBLAS call) per operation, and only token ids
// in and losses or next tokens out, as llm.c does it.
//
// Nothing of CUDA is needed to build it: the CUDA driver (libcuda), cuBLAS and NVRTC are
// loaded at run time with dlopen through purego, so the package builds with and without cgo
// and works in a CGO_ENABLED=0 binary. The libraries are looked for where users have them:
// a folder named by ORDERMERGE_CUDA_LIBS (or Options.LibDir), LD_LIBRARY_PATH, the CUDA
// toolkit under /usr/local/cuda*, the system library folders, and the NVIDIA wheels that
// PyTorch installs (site-packages/nvidia/*/lib). cuBLAS functions with more than 15
// arguments (cublasGemmEx and its strided-batched form, the bf16 products) are called through
// libffi, which every Linux distribution with Python has.
//
// The kernels are CUDA C source files in kernels/, embedded in the binary and compiled at
// first use by NVRTC for the GPU's architecture; the compiled code is cached on disk (by a
// hash of the source, the options, the architecture and the NVRTC version). The same source
// files also compile with a host C++ compiler against a header that emulates CUDA's thread
// model (compute/cuda/emulator), and the tests run this package's whole code path against
// that emulation, comparing every operation and whole training runs with the CPU device, so
// only the thin binding to the real driver is left for a GPU to check (bench/gpu).
//
// Reproducibility: every reduction runs in a fixed order (no atomics), cuBLAS gets a pinned
// workspace, so two runs on the same GPU with the same inputs give the same bytes.
package cuda
