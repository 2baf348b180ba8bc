package emulator_test

import (
	"context"
	"log"
	"os"
	"path/filepath"

	"github.com/ordermerge/ordermerge/compute/cuda/emulator"
)

// A test package of the CUDA device builds the fakes once, then points the device's library
// search at them.
func ExampleBuild() {
	dir, err := os.MkdirTemp("", "cuda-emulator-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := emulator.Build(context.Background(), dir); err != nil {
		log.Fatal(err) // for example: no C++ compiler: g++ was not found on PATH ...
	}
	os.Setenv("ORDERMERGE_CUDA_LIBS", dir)
	_ = filepath.Join(dir, emulator.DriverLib) // libcuda.so.1, libcublas.so.13, libnvrtc.so.13
}
