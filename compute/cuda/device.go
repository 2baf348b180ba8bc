//go:build linux

package cuda

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/tensor"
)

// Options configure Open.
type Options struct {
	// Ordinal is the GPU's index (cuda:N).
	Ordinal int
	// LibDir is a folder searched first for libcuda, cuBLAS, NVRTC and libffi (the
	// environment variable ORDERMERGE_CUDA_LIBS names one too).
	LibDir string
	// CacheDir holds compiled kernels (default: the user cache folder's ordermerge/cuda).
	CacheDir string
	// HeadChunk bounds the logits HeadLoss holds at once, in float32 values (default 1<<26,
	// 256 MiB); tests make it small to exercise the chunking.
	HeadChunk int
}

// Device is one NVIDIA GPU. Its operations are queued on the GPU's default stream in the
// order they are called and return at once; reads from the device wait for them.
type Device struct {
	a       *api
	ordinal int
	dev     int32
	ctx     uintptr
	blas    uintptr
	mod     uintptr
	fns     map[string]uintptr

	gemmEx, gemmBatched *ffiFunc

	headChunk      int
	name, describe string
	cc             [2]int
	sms            int
	maxShared      int
	total          int64

	mu      sync.Mutex // serialises launches (the C argument block) and the device scratch
	args    *cmem      // kernel arguments: 64 values and 64 pointers to them
	scratch devMem     // per-operation scratch of the device's own (grown, never shrunk)
	seqs    seqCache   // the last uploaded cache-attention row metadata
	errMu   sync.Mutex
	err     error
	// record, when set (by the tests, under mu), is told every kernel launch and cuBLAS
	// product queued: the kernel's name ("gemm" for a product) and its arguments.
	record func(name string, args []uint64)

	inUse, peak atomic.Int64
}

// devMem is a raw device allocation.
type devMem struct {
	ptr   uint64
	bytes int64
}

// Open starts the CUDA device: it loads the libraries, creates the context and a cuBLAS
// handle, and compiles (or finds in the cache) the kernels. On a machine without a usable GPU
// the error is one line that says what is missing.
func Open(opt Options) (*Device, error) {
	a, err := loadAPI(opt.LibDir)
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	d := &Device{a: a, ordinal: opt.Ordinal, fns: map[string]uintptr{}, headChunk: opt.HeadChunk}
	if d.headChunk <= 0 {
		d.headChunk = 1 << 26
	}
	d.args = newCMem(a, 16*maxArgs+16)
	if err := d.start(opt); err != nil {
		d.args.release()
		return nil, err
	}
	return d, nil
}

func (d *Device) start(opt Options) error {
	a := d.a
	c := newCMem(a, 512)
	defer c.release()
	if r := status(call(a.cuInit, 0)); r != 0 {
		return a.cuError(fmt.Sprintf("cuda: the NVIDIA driver (%s) could not start", a.driverLib.path), r)
	}
	if r := status(call(a.cuDeviceGetCount, c.ptr(0))); r != 0 {
		return a.cuError("cuda: count devices", r)
	}
	if n := int(c.i32(0)); d.ordinal < 0 || d.ordinal >= n {
		if n == 0 {
			return errors.New("cuda: the NVIDIA driver found no GPU")
		}
		return fmt.Errorf("cuda: no GPU cuda:%d (this machine has %d: cuda:0 .. cuda:%d)", d.ordinal, n, n-1)
	}
	if r := status(call(a.cuDeviceGet, c.ptr(0), uintptr(d.ordinal))); r != 0 {
		return a.cuError("cuda: get device", r)
	}
	d.dev = c.i32(0)
	if r := status(call(a.cuDeviceGetName, c.ptr(8), 256, uintptr(d.dev))); r != 0 {
		return a.cuError("cuda: device name", r)
	}
	d.name = cString(c.ptr(8))
	attr := func(id int) int {
		if status(call(a.cuDeviceGetAttribute, c.ptr(0), uintptr(id), uintptr(d.dev))) != 0 {
			return 0
		}
		return int(c.i32(0))
	}
	d.cc = [2]int{attr(75), attr(76)}
	d.sms = max(attr(16), 1)
	d.maxShared = max(attr(97), attr(8))
	if status(call(a.cuDeviceTotalMem, c.ptr(0), uintptr(d.dev))) == 0 {
		d.total = int64(c.u64(0))
	}
	if r := status(call(a.cuDevicePrimaryCtxRetain, c.ptr(0), uintptr(d.dev))); r != 0 {
		return a.cuError("cuda: create the context", r)
	}
	d.ctx = uintptr(c.u64(0))
	unlock := d.enter()
	defer unlock()
	if r := status(call(a.cublasCreate, c.ptr(0))); r != 0 {
		return fmt.Errorf("cuda: cuBLAS (%s) could not start (status %d): is it newer than the driver supports?", a.blasLib.path, r)
	}
	d.blas = uintptr(c.u64(0))
	// A pinned workspace keeps cuBLAS's algorithm choice, and so its results, fixed.
	ws, err := d.rawAlloc(32 << 20)
	if err != nil {
		return fmt.Errorf("cuda: cuBLAS workspace: %w", err)
	}
	if r := status(call(a.cublasSetWorkspace, d.blas, uintptr(ws.ptr), uintptr(ws.bytes))); r != 0 {
		return fmt.Errorf("cuda: set the cuBLAS workspace: status %d", r)
	}
	if d.gemmEx, err = newFFI(a, a.cublasGemmEx, gemmExWide); err != nil {
		return err
	}
	if d.gemmBatched, err = newFFI(a, a.cublasGemmStridedBatchedEx, gemmBatchedWide); err != nil {
		return err
	}
	var ver int32
	if status(call(a.cublasGetVersion, d.blas, c.ptr(0))) == 0 {
		ver = c.i32(0)
	}
	if err := d.loadKernels(opt.CacheDir); err != nil {
		return err
	}
	var drv int32
	if status(call(a.cuDriverGetVersion, c.ptr(0))) == 0 {
		drv = c.i32(0)
	}
	d.describe = fmt.Sprintf("cuda:%d: %s (sm_%d%d, %d SMs, %s), driver %d.%d, cuBLAS %d (%s)",
		d.ordinal, d.name, d.cc[0], d.cc[1], d.sms, tensor.FormatBytes(d.total), drv/1000, drv%1000/10, ver, a.blasLib.path)
	return nil
}

// enter makes the device's context current on this goroutine's thread for the duration of
// an operation; the returned function ends it.
func (d *Device) enter() func() {
	d.mu.Lock()
	runtime.LockOSThread()
	call(d.a.cuCtxSetCurrent, d.ctx)
	return func() {
		runtime.UnlockOSThread()
		d.mu.Unlock()
	}
}

// fail keeps the device's first error.
func (d *Device) fail(err error) {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	if d.err == nil {
		d.err = err
	}
}

func (d *Device) firstErr() error {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	return d.err
}

// check records a failed driver call.
func (d *Device) check(what string, r int32) bool {
	if r != 0 {
		d.fail(d.a.cuError("cuda: "+what, r))
		return false
	}
	return true
}

// Name is "cuda:N".
func (d *Device) Name() string { return fmt.Sprintf("cuda:%d", d.ordinal) }

// Describe names the GPU, its architecture and memory, and the libraries.
func (d *Device) Describe() string { return d.describe }

// ComputeCapability is the GPU's architecture, e.g. 9.0 for Hopper.
func (d *Device) ComputeCapability() (major, minor int) { return d.cc[0], d.cc[1] }

// storage is a device allocation.
type storage struct {
	d     *Device
	dt    compute.DType
	n     int
	ptr   uint64
	bytes int64
}

func (s *storage) Device() compute.Device { return s.d }
func (s *storage) DType() compute.DType   { return s.dt }
func (s *storage) Len() int               { return s.n }

// rawAlloc allocates device memory (the caller holds the lock).
func (d *Device) rawAlloc(bytes int64) (devMem, error) {
	var out devMem
	c := newCMem(d.a, 8)
	defer c.release()
	if r := status(call(d.a.cuMemAlloc, c.ptr(0), uintptr(max(bytes, 1)))); r != 0 {
		if r == 2 { // CUDA_ERROR_OUT_OF_MEMORY
			st := d.memInfo()
			return out, fmt.Errorf("out of GPU memory: %s wanted, %s of %s free", tensor.FormatBytes(bytes), tensor.FormatBytes(st.Free), tensor.FormatBytes(st.Total))
		}
		return out, d.a.cuError("allocate "+tensor.FormatBytes(bytes), r)
	}
	out = devMem{ptr: c.u64(0), bytes: bytes}
	now := d.inUse.Add(bytes)
	for p := d.peak.Load(); now > p && !d.peak.CompareAndSwap(p, now); p = d.peak.Load() {
	}
	return out, nil
}

func (d *Device) rawFree(m devMem) {
	if m.ptr == 0 {
		return
	}
	call(d.a.cuMemFree, uintptr(m.ptr))
	d.inUse.Add(-m.bytes)
}

// Alloc returns n zeroed elements of GPU memory, freed when the last Buf over them is
// garbage.
func (d *Device) Alloc(dt compute.DType, n int) (compute.Buf, error) {
	if n < 0 || (dt != compute.F32 && dt != compute.BF16 && dt != compute.I32) {
		return compute.Buf{}, fmt.Errorf("cuda: allocate %d elements of %v", n, dt)
	}
	unlock := d.enter()
	defer unlock()
	bytes := int64(n) * int64(dt.Size())
	m, err := d.rawAlloc(bytes)
	if err != nil {
		return compute.Buf{}, fmt.Errorf("cuda: %w", err)
	}
	if bytes > 0 && !d.check("zero new memory", status(call(d.a.cuMemsetD8, uintptr(m.ptr), 0, uintptr(bytes)))) {
		d.rawFree(m)
		return compute.Buf{}, d.firstErr()
	}
	st := &storage{d: d, dt: dt, n: n, ptr: m.ptr, bytes: bytes}
	runtime.AddCleanup(st, func(m devMem) {
		unlock := d.enter()
		defer unlock()
		d.rawFree(m)
	}, m)
	return compute.Whole(st), nil
}

// ptr is the device address of b's first element (0 for the zero Buf).
func (d *Device) ptr(b compute.Buf) uint64 {
	if b.IsZero() {
		return 0
	}
	st, ok := b.Storage().(*storage)
	if !ok || st.d != d {
		panic(fmt.Errorf("cuda: %s is not a buffer of %s", b, d.Name()))
	}
	return st.ptr + uint64(b.Offset()*st.dt.Size())
}

// WriteF32 copies host values to the device (rounded on the host for a BF16 buffer).
func (d *Device) WriteF32(dst compute.Buf, src []float32) error {
	if len(src) != dst.Len() {
		return fmt.Errorf("cuda: write %d values into %s", len(src), dst)
	}
	if len(src) == 0 {
		return nil
	}
	switch dst.DType() {
	case compute.F32:
		return d.upload(dst, float32Bytes(src))
	case compute.BF16:
		h := make([]uint16, len(src))
		for i, v := range src {
			h[i] = tensor.BF16FromFloat32(v)
		}
		return d.upload(dst, uint16Bytes(h))
	}
	return fmt.Errorf("cuda: write float values into %s", dst)
}

// WriteI32 copies host ids to the device.
func (d *Device) WriteI32(dst compute.Buf, src []int32) error {
	if len(src) != dst.Len() || dst.DType() != compute.I32 {
		return fmt.Errorf("cuda: write %d int32 values into %s", len(src), dst)
	}
	if len(src) == 0 {
		return nil
	}
	return d.upload(dst, int32Bytes(src))
}

func (d *Device) upload(dst compute.Buf, b []byte) error {
	unlock := d.enter()
	defer unlock()
	if err := d.firstErr(); err != nil {
		return err
	}
	if !d.check("copy to the GPU", status(call(d.a.cuMemcpyHtoD, uintptr(d.ptr(dst)), uintptr(unsafePointer(b)), uintptr(len(b))))) {
		return d.firstErr()
	}
	runtime.KeepAlive(b)
	return nil
}

func (d *Device) download(b []byte, src compute.Buf) error {
	unlock := d.enter()
	defer unlock()
	if err := d.firstErr(); err != nil {
		return err
	}
	if !d.check("copy from the GPU", status(call(d.a.cuMemcpyDtoH, uintptr(unsafePointer(b)), uintptr(d.ptr(src)), uintptr(len(b))))) {
		return d.firstErr()
	}
	runtime.KeepAlive(b)
	return nil
}

// ReadF32 copies device values to the host (widening BF16); it waits for the queued work.
func (d *Device) ReadF32(dst []float32, src compute.Buf) error {
	if len(dst) != src.Len() {
		return fmt.Errorf("cuda: read %s into %d values", src, len(dst))
	}
	if len(dst) == 0 {
		return d.Sync()
	}
	switch src.DType() {
	case compute.F32:
		return d.download(float32Bytes(dst), src)
	case compute.BF16:
		h := make([]uint16, len(dst))
		if err := d.download(uint16Bytes(h), src); err != nil {
			return err
		}
		for i, v := range h {
			dst[i] = tensor.Float32FromBF16(v)
		}
		return nil
	}
	return fmt.Errorf("cuda: read %s as float values", src)
}

// ReadI32 copies device ids to the host.
func (d *Device) ReadI32(dst []int32, src compute.Buf) error {
	if len(dst) != src.Len() || src.DType() != compute.I32 {
		return fmt.Errorf("cuda: read %s into %d int32 values", src, len(dst))
	}
	if len(dst) == 0 {
		return d.Sync()
	}
	return d.download(int32Bytes(dst), src)
}

// Copy copies device memory (same dtype and length).
func (d *Device) Copy(dst, src compute.Buf) {
	if dst.Len() != src.Len() || dst.DType() != src.DType() {
		panic(fmt.Errorf("copy: %s into %s", src, dst))
	}
	if dst.Len() == 0 {
		return
	}
	unlock := d.enter()
	defer unlock()
	d.check("copy on the GPU", status(call(d.a.cuMemcpyDtoD, uintptr(d.ptr(dst)), uintptr(d.ptr(src)), uintptr(dst.Len()*dst.DType().Size()))))
}

// Zero sets b to zero.
func (d *Device) Zero(b compute.Buf) {
	if b.Len() == 0 {
		return
	}
	unlock := d.enter()
	defer unlock()
	d.check("zero memory", status(call(d.a.cuMemsetD8, uintptr(d.ptr(b)), 0, uintptr(b.Len()*b.DType().Size()))))
}

// Sync waits for the queued work and returns the device's first error.
func (d *Device) Sync() error {
	unlock := d.enter()
	defer unlock()
	d.check("synchronize", status(call(d.a.cuCtxSynchronize)))
	return d.firstErr()
}

func (d *Device) memInfo() compute.MemoryStats {
	st := compute.MemoryStats{InUse: d.inUse.Load(), Peak: d.peak.Load(), Total: d.total}
	c := newCMem(d.a, 16)
	defer c.release()
	if status(call(d.a.cuMemGetInfo, c.ptr(0), c.ptr(8))) == 0 {
		st.Free, st.Total = int64(c.u64(0)), int64(c.u64(8))
	}
	return st
}

// MemoryStats reports this process's GPU buffers and the GPU's free and total memory.
func (d *Device) MemoryStats() compute.MemoryStats {
	unlock := d.enter()
	defer unlock()
	return d.memInfo()
}

// scratchPtr returns at least bytes of the device's own scratch (the caller holds the lock;
// every operation that uses it is queued before the next one starts, in stream order).
func (d *Device) scratchPtr(bytes int64) uint64 {
	if bytes <= d.scratch.bytes {
		return d.scratch.ptr
	}
	// Freeing waits for the work that may still use the old scratch.
	d.rawFree(d.scratch)
	d.scratch = devMem{}
	m, err := d.rawAlloc(bytes)
	if err != nil {
		panic(fmt.Errorf("cuda: scratch: %w", err))
	}
	d.scratch = m
	return m.ptr
}

var _ compute.Device = (*Device)(nil)

// f32bits is a float32 kernel argument.
func f32bits(v float32) uint64 { return uint64(math.Float32bits(v)) }

// f64bits is a float64 kernel argument.
func f64bits(v float64) uint64 { return math.Float64bits(v) }
