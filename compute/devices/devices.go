package devices

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
)

// Options configure the devices Open returns.
type Options struct {
	// Backend names the CPU matrix-multiply backend ("openblas", "go"; "" for the default).
	Backend string
	// Threads is the CPU device's thread count (0: one per core).
	Threads int
	// CUDALibDir is searched first for the CUDA libraries (see compute/cuda).
	CUDALibDir string
	// CUDACacheDir holds compiled kernels (default: the user cache folder).
	CUDACacheDir string
}

// Name is a parsed device name: Kind "cpu" or "cuda", and for CUDA the ordinal.
type Name struct {
	Kind    string
	Ordinal int
}

func (n Name) String() string {
	if n.Kind == "cuda" {
		return fmt.Sprintf("cuda:%d", n.Ordinal)
	}
	return n.Kind
}

// Parse reads "cpu", "cuda" (cuda:0) or "cuda:N".
func Parse(s string) (Name, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "" || s == "cpu":
		return Name{Kind: "cpu"}, nil
	case s == "cuda" || s == "gpu":
		return Name{Kind: "cuda"}, nil
	case strings.HasPrefix(s, "cuda:"):
		n, err := strconv.Atoi(s[len("cuda:"):])
		if err != nil || n < 0 {
			return Name{}, fmt.Errorf("device %q: the CUDA ordinal must be a number >= 0 (cuda:0, cuda:1, ...)", s)
		}
		return Name{Kind: "cuda", Ordinal: n}, nil
	}
	return Name{}, fmt.Errorf("unknown device %q (want cpu, cuda or cuda:N)", s)
}

// Open returns the named device.
func Open(name string, opt Options) (compute.Device, error) {
	n, err := Parse(name)
	if err != nil {
		return nil, err
	}
	switch n.Kind {
	case "cpu":
		be, err := cpu.NewBackend(opt.Backend, opt.Threads)
		if err != nil {
			return nil, err
		}
		return cpu.NewDevice(be), nil
	}
	return openCUDA(n, opt)
}
