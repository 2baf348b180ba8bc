//go:build linux

package cuda

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The kernels' CUDA C sources, compiled together into one module.
//
//go:embed kernels/prelude.cuh kernels/*.cu
var kernelFS embed.FS

// Source returns the kernels as one translation unit: the prelude, then every .cu file in
// name order.
func Source() (string, error) {
	var b strings.Builder
	pre, err := kernelFS.ReadFile("kernels/prelude.cuh")
	if err != nil {
		return "", err
	}
	b.Write(pre)
	files, err := fs.Glob(kernelFS, "kernels/*.cu")
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	for _, f := range files {
		src, err := kernelFS.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\n// ---- %s\n", f)
		b.Write(src)
	}
	return b.String(), nil
}

var kernelName = regexp.MustCompile(`extern "C" __global__ void ([A-Za-z_][A-Za-z0-9_]*)\(`)

// KernelNames lists the kernels the source defines.
func KernelNames(src string) []string {
	var out []string
	for _, m := range kernelName.FindAllStringSubmatch(src, -1) {
		out = append(out, m[1])
	}
	return out
}

// loadKernels compiles the kernels for this GPU (or reads them from the cache) and looks up
// every kernel function.
func (d *Device) loadKernels(cacheDir string) error {
	src, err := Source()
	if err != nil {
		return fmt.Errorf("cuda: kernel sources: %w", err)
	}
	image, err := d.compile(src, cacheDir)
	if err != nil {
		return err
	}
	c := newCMem(d.a, 8+len(image)+1)
	defer c.release()
	copy(unsafeBytes(c, 8, len(image)), image)
	if r := status(call(d.a.cuModuleLoadData, c.ptr(0), c.ptr(8))); r != 0 {
		return d.a.cuError("cuda: load the compiled kernels", r)
	}
	d.mod = uintptr(c.u64(0))
	names := newCMem(d.a, 256)
	defer names.release()
	for _, k := range KernelNames(src) {
		if r := status(call(d.a.cuModuleGetFunction, c.ptr(0), d.mod, names.putString(0, k))); r != 0 {
			return d.a.cuError("cuda: find kernel "+k, r)
		}
		d.fns[k] = uintptr(c.u64(0))
	}
	return nil
}

// compile runs NVRTC over src for the GPU's architecture, caching the result by a hash of
// the source, the options, the architecture and the NVRTC version.
func (d *Device) compile(src, cacheDir string) ([]byte, error) {
	a := d.a
	c := newCMem(a, 64)
	defer c.release()
	if r := status(call(a.nvrtcVersion, c.ptr(0), c.ptr(4))); r != 0 {
		return nil, fmt.Errorf("cuda: nvrtcVersion failed (%d)", r)
	}
	nvrtcVer := fmt.Sprintf("%d.%d", c.i32(0), c.i32(4))
	arch := fmt.Sprintf("sm_%d%d", d.cc[0], d.cc[1])
	opts := []string{"--gpu-architecture=" + arch, "--std=c++17", "-default-device"}
	sum := sha256.Sum256([]byte(strings.Join(append([]string{src, nvrtcVer, arch}, opts...), "\x00")))
	key := hex.EncodeToString(sum[:16])
	if cacheDir == "" {
		if base, err := os.UserCacheDir(); err == nil {
			cacheDir = filepath.Join(base, "ordermerge", "cuda")
		}
	}
	cached := ""
	if cacheDir != "" {
		cached = filepath.Join(cacheDir, fmt.Sprintf("kernels-%s-nvrtc%s-%s.cubin", arch, nvrtcVer, key))
		if b, err := os.ReadFile(cached); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	image, err := d.nvrtc(src, opts)
	if err != nil {
		return nil, err
	}
	if cached != "" {
		// Best effort: a cache that cannot be written only costs a compile next time.
		if err := os.MkdirAll(cacheDir, 0o755); err == nil {
			tmp := fmt.Sprintf("%s.tmp-%d", cached, os.Getpid())
			if os.WriteFile(tmp, image, 0o644) == nil {
				_ = os.Rename(tmp, cached)
			}
			_ = os.Remove(tmp)
		}
	}
	return image, nil
}

// nvrtc compiles src with opts and returns the CUBIN.
func (d *Device) nvrtc(src string, opts []string) ([]byte, error) {
	a := d.a
	size := 64 + len(src) + 1 + 64
	for _, o := range opts {
		size += len(o) + 1 + 8
	}
	c := newCMem(a, size)
	defer c.release()
	off := 64
	srcPtr := c.putString(off, src)
	off += len(src) + 1
	namePtr := c.putString(off, "ordermerge_kernels.cu")
	off += 32
	arr := off
	off += 8 * len(opts)
	for i, o := range opts {
		c.putU64(arr+8*i, uint64(c.putString(off, o)))
		off += len(o) + 1
	}
	if r := status(call(a.nvrtcCreateProgram, c.ptr(0), srcPtr, namePtr, 0, 0, 0)); r != 0 {
		return nil, fmt.Errorf("cuda: nvrtcCreateProgram: %s", cString(call(a.nvrtcGetErrorString, uintptr(r))))
	}
	prog := uintptr(c.u64(0))
	defer call(a.nvrtcDestroyProgram, c.ptr(0))
	if r := status(call(a.nvrtcCompileProgram, prog, uintptr(len(opts)), c.ptr(arr))); r != 0 {
		log := ""
		if status(call(a.nvrtcGetProgramLogSize, prog, c.ptr(8))) == 0 {
			n := int(c.u64(8))
			lc := newCMem(a, n+1)
			if status(call(a.nvrtcGetProgramLog, prog, lc.ptr(0))) == 0 {
				log = cString(lc.ptr(0))
			}
			lc.release()
		}
		return nil, fmt.Errorf("cuda: compiling the kernels with NVRTC (%s) failed: %s\n%s", a.nvrtcLib.path, cString(call(a.nvrtcGetErrorString, uintptr(r))), log)
	}
	if r := status(call(a.nvrtcGetCUBINSize, prog, c.ptr(8))); r != 0 {
		return nil, fmt.Errorf("cuda: nvrtcGetCUBINSize: %s", cString(call(a.nvrtcGetErrorString, uintptr(r))))
	}
	n := int(c.u64(8))
	out := newCMem(a, n+1)
	defer out.release()
	if r := status(call(a.nvrtcGetCUBIN, prog, out.ptr(0))); r != 0 {
		return nil, fmt.Errorf("cuda: nvrtcGetCUBIN: %s", cString(call(a.nvrtcGetErrorString, uintptr(r))))
	}
	return append([]byte(nil), unsafeBytes(out, 0, n)...), nil
}
