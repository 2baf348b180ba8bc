//go:build linux

package cuda_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ordermerge/ordermerge/compute/cuda"
	"github.com/ordermerge/ordermerge/compute/cuda/emulator"
)

// The tests run against the real GPU when ORDERMERGE_CUDA_TEST=real (the GPU check,
// bench/gpu), and otherwise against the emulated driver, cuBLAS and NVRTC that
// compute/cuda/emulator builds with g++: everything in this package but the real libraries
// is then exercised. ORDERMERGE_REQUIRE_CUDA_TESTS=1 (set by CI) turns a missing g++ into a
// failure instead of a skip.
const (
	envMode    = "ORDERMERGE_CUDA_TEST"
	envRequire = "ORDERMERGE_REQUIRE_CUDA_TESTS"
)

var (
	emuOnce sync.Once
	emuDir  string
	emuErr  error
	devOnce sync.Once
	dev     *cuda.Device
	devErr  error
)

func realGPU() bool { return os.Getenv(envMode) == "real" }

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "ordermerge-cuda-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	emuDir = filepath.Join(tmp, "libs")
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// options returns the device options of this test run.
func options(t testing.TB) cuda.Options {
	t.Helper()
	if realGPU() {
		return cuda.Options{}
	}
	emuOnce.Do(func() { emuErr = emulator.Build(context.Background(), emuDir) })
	if emuErr != nil {
		if os.Getenv(envRequire) != "" {
			t.Fatalf("CUDA emulator: %v", emuErr)
		}
		t.Skipf("CUDA tests SKIPPED: the emulator cannot be built here (%v); set %s=real on a GPU machine", emuErr, envMode)
	}
	return cuda.Options{LibDir: emuDir, CacheDir: filepath.Join(filepath.Dir(emuDir), "kernel-cache")}
}

// device opens the device once for the whole test binary.
func device(t testing.TB) *cuda.Device {
	t.Helper()
	opt := options(t)
	devOnce.Do(func() { dev, devErr = cuda.Open(opt) })
	if devErr != nil {
		t.Fatalf("open the CUDA device: %v", devErr)
	}
	return dev
}

func TestOpen(t *testing.T) {
	d := device(t)
	t.Logf("%s", d.Describe())
	if d.Name() != "cuda:0" {
		t.Errorf("name %q", d.Name())
	}
	st := d.MemoryStats()
	if st.Total <= 0 || st.Free <= 0 || st.Free > st.Total {
		t.Errorf("memory stats %+v", st)
	}
}
