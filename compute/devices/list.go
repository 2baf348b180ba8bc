package devices

import (
	"fmt"
	"runtime"

	"github.com/ordermerge/ordermerge/compute/cpu"
	"github.com/ordermerge/ordermerge/tensor"
)

// Info is one device of this machine for `ordermerge devices`: its name, one line about it,
// and why it cannot be used when it cannot.
type Info struct {
	Name     string
	Describe string
	Problem  string
}

func (i Info) String() string {
	if i.Problem != "" {
		return fmt.Sprintf("%-8s unusable: %s", i.Name, i.Problem)
	}
	return fmt.Sprintf("%-8s %s", i.Name, i.Describe)
}

// List reports the CPU and every GPU the CUDA driver sees (or one line saying why there is
// none), without starting any of them.
func List(opt Options) []Info {
	out := []Info{cpuInfo(opt)}
	return append(out, listCUDA(opt)...)
}

func cpuInfo(opt Options) Info {
	be, err := cpu.NewBackend(opt.Backend, opt.Threads)
	if err != nil {
		return Info{Name: "cpu", Problem: err.Error()}
	}
	d := cpu.NewDevice(be)
	st := d.MemoryStats()
	return Info{Name: "cpu", Describe: fmt.Sprintf("%s; %d cores, %s of memory (%s available)", d.Describe(), runtime.NumCPU(), tensor.FormatBytes(st.Total), tensor.FormatBytes(st.Free))}
}
