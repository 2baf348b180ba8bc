//go:build linux

package devices

import (
	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cuda"
)

func openCUDA(n Name, opt Options) (compute.Device, error) {
	return cuda.Open(cuda.Options{Ordinal: n.Ordinal, LibDir: opt.CUDALibDir, CacheDir: opt.CUDACacheDir})
}
