//go:build linux

package devices

import (
	"fmt"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cuda"
	"github.com/ordermerge/ordermerge/tensor"
)

func openCUDA(n Name, opt Options) (compute.Device, error) {
	return cuda.Open(cuda.Options{Ordinal: n.Ordinal, LibDir: opt.CUDALibDir, CacheDir: opt.CUDACacheDir})
}

func listCUDA(opt Options) []Info {
	gpus, err := cuda.Probe(cuda.Options{LibDir: opt.CUDALibDir})
	if err != nil {
		return []Info{{Name: "cuda", Problem: err.Error()}}
	}
	var out []Info
	for _, g := range gpus {
		info := Info{Name: Name{Kind: "cuda", Ordinal: g.Ordinal}.String(), Problem: g.Problem}
		info.Describe = fmt.Sprintf("%s (sm_%d%d, %d SMs, %s)", g.Name, g.Major, g.Minor, g.SMs, tensor.FormatBytes(g.TotalMemory))
		out = append(out, info)
	}
	return out
}
