//go:build linux

package cuda

import (
	"fmt"

	"github.com/ordermerge/ordermerge/tensor"
)

// Info describes one GPU as the driver reports it, without starting a device on it.
type Info struct {
	Ordinal     int
	Name        string
	Major       int // compute capability
	Minor       int
	SMs         int
	TotalMemory int64
	// Problem says why the GPU cannot be used by this package ("" when it can).
	Problem string
}

func (i Info) String() string {
	s := fmt.Sprintf("cuda:%d  %s (sm_%d%d, %d SMs, %s)", i.Ordinal, i.Name, i.Major, i.Minor, i.SMs, tensor.FormatBytes(i.TotalMemory))
	if i.Problem != "" {
		s += "  unusable: " + i.Problem
	}
	return s
}

// minMajor is the oldest architecture the kernels and cuBLAS's bf16 products support
// (Ampere; bf16 tensor cores start there).
const minMajor = 8

// Probe lists the GPUs the driver sees. The error says what is missing when there is no
// usable driver, cuBLAS, NVRTC or libffi.
func Probe(opt Options) ([]Info, error) {
	a, err := loadAPI(opt.LibDir)
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	c := newCMem(a, 512)
	defer c.release()
	if r := status(call(a.cuInit, 0)); r != 0 {
		return nil, a.cuError(fmt.Sprintf("cuda: the NVIDIA driver (%s) could not start", a.driverLib.path), r)
	}
	if r := status(call(a.cuDeviceGetCount, c.ptr(0))); r != 0 {
		return nil, a.cuError("cuda: count devices", r)
	}
	n := int(c.i32(0))
	var out []Info
	for i := 0; i < n; i++ {
		if status(call(a.cuDeviceGet, c.ptr(0), uintptr(i))) != 0 {
			continue
		}
		dev := c.i32(0)
		info := Info{Ordinal: i}
		if status(call(a.cuDeviceGetName, c.ptr(8), 256, uintptr(dev))) == 0 {
			info.Name = cString(c.ptr(8))
		}
		attr := func(id int) int {
			if status(call(a.cuDeviceGetAttribute, c.ptr(0), uintptr(id), uintptr(dev))) != 0 {
				return 0
			}
			return int(c.i32(0))
		}
		info.Major, info.Minor, info.SMs = attr(75), attr(76), attr(16)
		if status(call(a.cuDeviceTotalMem, c.ptr(0), uintptr(dev))) == 0 {
			info.TotalMemory = int64(c.u64(0))
		}
		if info.Major < minMajor {
			info.Problem = fmt.Sprintf("compute capability %d.%d; ordermerge needs %d.0 or newer (bf16 tensor cores)", info.Major, info.Minor, minMajor)
		}
		out = append(out, info)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cuda: the NVIDIA driver (%s) found no GPU", a.driverLib.path)
	}
	return out, nil
}
