package emulator

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// The C and C++ sources of the fakes.
//
//go:embed csrc/*.h csrc/*.cpp
var sources embed.FS

// The files Build writes into its folder. The names are ones the CUDA device looks for; the
// plain .so names are symbolic links to them.
const (
	DriverLib = "libcuda.so.1"
	BLASLib   = "libcublas.so.13"
	NVRTCLib  = "libnvrtc.so.13"
)

// EnvCXX names the C++ compiler that Build and the fake NVRTC use instead of g++ on PATH.
const EnvCXX = "ORDERMERGE_EMU_CXX"

// stampFile records what the libraries in a folder were built from.
const stampFile = ".emulator-build"

// Header returns cuda_emu.h, the emulation header the fake NVRTC compiles in front of every
// kernel source (it is embedded in the fake NVRTC too).
func Header() []byte {
	b, err := sources.ReadFile("csrc/cuda_emu.h")
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}

// Build compiles the fake CUDA driver, cuBLAS and NVRTC into dir with g++ (or the compiler
// named by ORDERMERGE_EMU_CXX). A folder already built from the same sources with the same
// compiler is left as it is, so calling Build again is cheap.
func Build(ctx context.Context, dir string) error {
	return build(ctx, dir, nil)
}

// build is Build with extra compiler flags for the fiber scheduler (the tests build the
// ucontext fallback with -DEMU_FIBER_UCONTEXT).
func build(ctx context.Context, dir string, driverFlags []string) error {
	cxx, err := compiler()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	key, err := buildKey(cxx, driverFlags)
	if err != nil {
		return err
	}
	if upToDate(dir, key) {
		return nil
	}
	work, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	defer os.RemoveAll(work)
	if err := writeSources(work); err != nil {
		return err
	}
	if err := compileAll(ctx, cxx, work, driverFlags, nvrtcMinor(key)); err != nil {
		return err
	}
	for _, lib := range []string{DriverLib, BLASLib, NVRTCLib} {
		if err := os.Rename(filepath.Join(work, lib), filepath.Join(dir, lib)); err != nil {
			return fmt.Errorf("emulator: %w", err)
		}
		link := filepath.Join(dir, lib[:strings.Index(lib, ".so")+3])
		if _, err := os.Lstat(link); errors.Is(err, fs.ErrNotExist) {
			if err := os.Symlink(lib, link); err != nil {
				return fmt.Errorf("emulator: %w", err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, stampFile), []byte(key+"\n"), 0o644); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	return nil
}

// compiler finds the C++ compiler, or says what is missing.
func compiler() (string, error) {
	name := os.Getenv(EnvCXX)
	if name == "" {
		name = "g++"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(EnvCXX) != "" {
			return "", fmt.Errorf("emulator: the C++ compiler %q named by %s was not found: %w", name, EnvCXX, err)
		}
		return "", fmt.Errorf("emulator: no C++ compiler: g++ was not found on PATH (install the Debian package g++, or set %s to a C++17 compiler)", EnvCXX)
	}
	return filepath.Abs(p)
}

// buildKey hashes the sources, the compiler and the flags.
func buildKey(cxx string, flags []string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", cxx, strings.Join(flags, " "), runtime.GOARCH)
	if st, err := os.Stat(cxx); err == nil {
		fmt.Fprintf(h, "%d %d\x00", st.Size(), st.ModTime().UnixNano())
	}
	names, err := fs.Glob(sources, "csrc/*")
	if err != nil {
		return "", err
	}
	for _, n := range names {
		b, err := sources.ReadFile(n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// nvrtcMinor is the fake NVRTC's minor version: 1 to 2^20, from the build key (its major
// version is 0, which no real NVRTC has).
func nvrtcMinor(key string) int {
	n, _ := strconv.ParseUint(key[:5], 16, 32)
	return int(n) + 1
}

func upToDate(dir, key string) bool {
	b, err := os.ReadFile(filepath.Join(dir, stampFile))
	if err != nil || strings.TrimSpace(string(b)) != key {
		return false
	}
	for _, lib := range []string{DriverLib, BLASLib, NVRTCLib} {
		if _, err := os.Stat(filepath.Join(dir, lib)); err != nil {
			return false
		}
	}
	return true
}

// writeSources copies the sources into dir, plus cuda_emu_h.inc: cuda_emu.h as a C array
// for the fake NVRTC to embed.
func writeSources(dir string) error {
	names, err := fs.Glob(sources, "csrc/*")
	if err != nil {
		return err
	}
	for _, n := range names {
		b, err := sources.ReadFile(n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(n)), b, 0o644); err != nil {
			return fmt.Errorf("emulator: %w", err)
		}
	}
	var inc strings.Builder
	inc.WriteString("static const char kCudaEmuH[] = {")
	for i, c := range Header() {
		if i%24 == 0 {
			inc.WriteString("\n")
		}
		fmt.Fprintf(&inc, "%d,", c)
	}
	inc.WriteString("\n};\n")
	if err := os.WriteFile(filepath.Join(dir, "cuda_emu_h.inc"), []byte(inc.String()), 0o644); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	return nil
}

// compileAll compiles every source to an object (in parallel), then links the libraries:
// the driver first, since cuBLAS links against it (and finds it beside itself at run time).
func compileAll(ctx context.Context, cxx, dir string, driverFlags []string, minor int) error {
	common := []string{"-std=c++17", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-c"}
	// -O2 where the time goes (the fiber scheduler, the products), -O1 elsewhere: it
	// compiles faster.
	objects := map[string][]string{
		"driver.cpp":        {"-O1"},
		"driver_memory.cpp": {"-O1"},
		"driver_launch.cpp": {"-O1"},
		"fibers.cpp":        append([]string{"-O2"}, driverFlags...),
		// Sums in the written order, products not fused: the same bits on every compiler.
		"cublas.cpp": {"-O2", "-ffp-contract=off"},
		"nvrtc.cpp":  {"-O1", "-DEMU_DEFAULT_CXX=\"" + cxx + "\"", fmt.Sprintf("-DEMU_NVRTC_MINOR=%d", minor)},
	}
	jobs := make(chan string)
	errs := make(chan error, len(objects))
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.NumCPU(), len(objects)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for src := range jobs {
				args := append(append(append([]string{}, common...), objects[src]...), "-o", strings.TrimSuffix(src, ".cpp")+".o", src)
				errs <- run(ctx, cxx, dir, args)
			}
		}()
	}
	for src := range objects {
		jobs <- src
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	links := [][]string{
		{"-shared", "-o", DriverLib, "-Wl,-soname," + DriverLib, "driver.o", "driver_memory.o", "driver_launch.o", "fibers.o", "-ldl", "-lpthread"},
		// An RPATH (not RUNPATH) of $ORIGIN: the fake driver beside it wins over any real one
		// on LD_LIBRARY_PATH.
		{"-shared", "-o", BLASLib, "-Wl,-soname," + BLASLib, "cublas.o", DriverLib, "-Wl,--disable-new-dtags,-rpath,$ORIGIN"},
		{"-shared", "-o", NVRTCLib, "-Wl,-soname," + NVRTCLib, "nvrtc.o"},
	}
	for _, args := range links {
		if err := run(ctx, cxx, dir, args); err != nil {
			return err
		}
	}
	return nil
}

func run(ctx context.Context, cxx, dir string, args []string) error {
	cmd := exec.CommandContext(ctx, cxx, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("emulator: %s %s: %w\n%s", filepath.Base(cxx), strings.Join(args, " "), err, out)
	}
	return nil
}
