//go:build !linux

package devices

import (
	"fmt"
	"runtime"

	"github.com/ordermerge/ordermerge/compute"
)

func openCUDA(n Name, opt Options) (compute.Device, error) {
	return nil, fmt.Errorf("device %s: the CUDA device runs on Linux; this is %s", n, runtime.GOOS)
}

func listCUDA(opt Options) []Info {
	return []Info{{Name: "cuda", Problem: "the CUDA device runs on Linux; this is " + runtime.GOOS}}
}
