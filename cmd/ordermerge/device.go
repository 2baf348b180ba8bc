package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/devices"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/tensor"
)

// computeFlags choose where a command's models live and how they compute: shared by train,
// eval and repro.
type computeFlags struct {
	device, precision, backend string
	threads                    int
}

func (c *computeFlags) register(fs flagSet) {
	c.registerPrecision(fs, "precision")
	c.registerDevice(fs)
}

// registerPrecision adds the products' precision under the given flag name.
func (c *computeFlags) registerPrecision(fs flagSet, name string) {
	fs.StringVar(&c.precision, name, "f32", "precision of the matrix products while training: f32, tf32 (CUDA tensor cores) or bf16 (mixed precision: bf16 products, f32 weights, optimizer and loss)")
}

// registerDevice adds --device, --backend and --threads.
func (c *computeFlags) registerDevice(fs flagSet) {
	fs.StringVar(&c.device, "device", "cpu", "where the models run: cpu, cuda (the first GPU) or cuda:N; 'ordermerge devices' lists them")
	fs.StringVar(&c.backend, "backend", "", "CPU matrix-multiply backend: openblas or go (default: openblas when built with cgo)")
	fs.IntVar(&c.threads, "threads", 0, "CPU threads (0: one per core)")
}

// flagSet is the part of *flag.FlagSet the registrations use.
type flagSet interface {
	StringVar(p *string, name, value, usage string)
	IntVar(p *int, name string, value int, usage string)
}

// options opens the device and returns the model options for it.
func (c *computeFlags) options() (llama.Options, error) {
	prec, err := compute.ParsePrecision(c.precision)
	if err != nil {
		return llama.Options{}, usagef("--precision: %v", err)
	}
	dev, err := devices.Open(c.device, devices.Options{Backend: c.backend, Threads: c.threads})
	if err != nil {
		return llama.Options{}, fmt.Errorf("--device %s: %w", c.device, err)
	}
	if prec == compute.PrecisionTF32 && dev.Name() == "cpu" {
		return llama.Options{}, usagef("--precision tf32 is a GPU tensor-core mode; on the CPU use f32 or bf16")
	}
	return llama.Options{Device: dev, Precision: prec}, nil
}

// peakMemory is one line about a device's peak use, for the end of a run.
func peakMemory(dev compute.Device) string {
	st := dev.MemoryStats()
	if st.Total > 0 {
		return fmt.Sprintf("peak %s memory %s of %s", dev.Name(), tensor.FormatBytes(st.Peak), tensor.FormatBytes(st.Total))
	}
	return fmt.Sprintf("peak %s memory %s", dev.Name(), tensor.FormatBytes(st.Peak))
}

func runDevices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("devices", stderr)
	var c computeFlags
	fs.StringVar(&c.backend, "backend", "", "CPU matrix-multiply backend to describe: openblas or go")
	fs.StringVar(&c.device, "cuda-libs", "", "a folder to search first for libcuda, cuBLAS, NVRTC and libffi")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ordermerge devices\n\nLists the devices this machine can train on, and for each one that cannot be used, why.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, d := range devices.List(devices.Options{Backend: c.backend, CUDALibDir: c.device}) {
		fmt.Fprintln(stdout, d)
	}
	return nil
}
