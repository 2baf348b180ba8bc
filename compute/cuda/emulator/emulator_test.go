package emulator

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The C test programs, built once by TestMain against freshly built fakes.
var programs = []string{"driver_test", "kernels_test", "cublas_test", "nvrtc_test"}

// setup is what TestMain built: the libraries' folder and the test programs' folder.
var setup struct {
	libs, bin, include, testdata string
	err                          error
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "emulator-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	setup.err = prepare(dir)
	return m.Run()
}

// prepare builds the fakes into dir/lib and the C test programs into dir/bin.
func prepare(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	setup.libs = filepath.Join(dir, "lib")
	setup.bin = filepath.Join(dir, "bin")
	setup.include = filepath.Join(dir, "include")
	td, err := filepath.Abs("testdata")
	if err != nil {
		return err
	}
	setup.testdata = td
	if err := Build(ctx, setup.libs); err != nil {
		return err
	}
	for _, d := range []string{setup.bin, setup.include} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := writeSources(setup.include); err != nil {
		return err
	}
	cxx, err := compiler()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(programs))
	for i, p := range programs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = run(ctx, cxx, setup.testdata, []string{"-std=c++17", "-O0", "-Wall", "-I", setup.include,
				"-o", filepath.Join(setup.bin, p), p + ".cpp", "-L", setup.libs,
				"-l:" + DriverLib, "-l:" + BLASLib, "-l:" + NVRTCLib, "-Wl,-rpath," + setup.libs, "-lpthread"})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// runC runs a C test program and reports each of its tests as a subtest. It returns the
// program's output.
func runC(t *testing.T, prog string, env []string, args ...string) string {
	t.Helper()
	if setup.err != nil {
		t.Fatal(setup.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(setup.bin, prog), append([]string{setup.testdata}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if ctx.Err() != nil {
		t.Fatalf("%s hung (killed after %v):\n%s", prog, 3*time.Minute, text)
	}
	var name string
	var block []string
	ran := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "=== RUN "):
			name, block = strings.TrimPrefix(line, "=== RUN "), nil
		case strings.HasPrefix(line, "--- PASS ") || strings.HasPrefix(line, "--- FAIL "):
			failed, lines := strings.HasPrefix(line, "--- FAIL "), block
			ran++
			t.Run(name, func(t *testing.T) {
				if failed {
					t.Errorf("\n%s", strings.Join(lines, "\n"))
				}
			})
			name = ""
		default:
			block = append(block, line)
		}
	}
	if name != "" {
		t.Errorf("%s stopped in %s (%v):\n%s", prog, name, err, strings.Join(block, "\n"))
	} else if ran == 0 {
		t.Errorf("%s ran no tests (%v):\n%s", prog, err, text)
	}
	return text
}

func TestDriver(t *testing.T) {
	out := runC(t, "driver_test", nil)
	// Failures are printed to stderr too.
	if !strings.Contains(out, "ordermerge CUDA emulator: cuMemAlloc_v2: ") {
		t.Errorf("no failure printed to stderr:\n%s", out)
	}
}

func TestKernels(t *testing.T) {
	out := runC(t, "kernels_test", nil)
	if !strings.Contains(out, "kernel printf: 42 from thread 1\n") || strings.Count(out, "kernel printf:") != 1 {
		t.Errorf("printf from a kernel: want one line \"kernel printf: 42 from thread 1\":\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "fiber switches:") || strings.HasPrefix(l, "launches of") {
			t.Log(l)
		}
	}
}

func TestCublas(t *testing.T) { runC(t, "cublas_test", nil) }

func TestNVRTC(t *testing.T) { runC(t, "nvrtc_test", nil) }

// The ucontext fallback (used where the hand-written switch does not exist) runs the same
// kernel tests.
func TestKernelsUcontext(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the driver a second time")
	}
	dir := filepath.Join(t.TempDir(), "lib")
	if err := build(context.Background(), dir, []string{"-DEMU_FIBER_UCONTEXT"}); err != nil {
		t.Fatal(err)
	}
	runC(t, "kernels_test", []string{"LD_LIBRARY_PATH=" + dir})
}

func TestBuildIsOncePerFolder(t *testing.T) {
	if setup.err != nil {
		t.Fatal(setup.err)
	}
	lib := filepath.Join(setup.libs, DriverLib)
	before, err := os.Stat(lib)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := Build(context.Background(), setup.libs); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(lib)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the second Build rebuilt %s", lib)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the second Build took %v", d)
	}
	for _, link := range []string{"libcuda.so", "libcublas.so", "libnvrtc.so"} {
		if _, err := os.Stat(filepath.Join(setup.libs, link)); err != nil {
			t.Errorf("no %s: %v", link, err)
		}
	}
}

func TestBuildWithoutCompiler(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvCXX, "/nonexistent/g++")
	err := Build(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/g++") || !strings.Contains(err.Error(), EnvCXX) {
		t.Errorf("with %s naming a missing compiler: %v", EnvCXX, err)
	}
	t.Setenv(EnvCXX, "")
	t.Setenv("PATH", t.TempDir())
	err = Build(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "g++ was not found on PATH") || !strings.Contains(err.Error(), "install the Debian package g++") {
		t.Errorf("without g++ on PATH: %v", err)
	}
}

func TestBuildReportsCompileErrors(t *testing.T) {
	if setup.err != nil {
		t.Fatal(setup.err)
	}
	dir := t.TempDir()
	// A "compiler" that fails with a message.
	fake := filepath.Join(dir, "broken-cxx")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'broken compiler says no' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvCXX, fake)
	err := Build(context.Background(), filepath.Join(dir, "lib"))
	if err == nil || !strings.Contains(err.Error(), "broken compiler says no") {
		t.Errorf("a failing compile: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "lib", DriverLib)); err == nil {
		t.Errorf("a failed build left %s", DriverLib)
	}
}

// BenchmarkFibers reports the fiber switch rate (256 threads crossing barriers) and the launch
// rate (2000 launches of one 256-thread block), for the hand-written x86-64 switch and for
// ucontext's swapcontext, built and measured in the same run.
func BenchmarkFibers(b *testing.B) {
	if setup.err != nil {
		b.Fatal(setup.err)
	}
	uc := filepath.Join(b.TempDir(), "lib")
	if err := build(context.Background(), uc, []string{"-DEMU_FIBER_UCONTEXT"}); err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct{ name, libs string }{{"asm", setup.libs}, {"ucontext", uc}} {
		b.Run(v.name, func(b *testing.B) {
			var switches, launches float64
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(filepath.Join(setup.bin, "kernels_test"), setup.testdata, "switch_rate")
				cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+v.libs)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
				for _, l := range strings.Split(string(out), "\n") {
					var x, y, z float64
					if _, err := fmt.Sscanf(l, "fiber switches: %g in %g s: %g M switches/s", &x, &y, &z); err == nil {
						switches += z * 1e6
					}
					if _, err := fmt.Sscanf(l, "launches of 256 threads: %g in %g s: %g launches/s", &x, &y, &z); err == nil {
						launches += z
					}
				}
			}
			b.ReportMetric(switches/float64(b.N), "switches/s")
			b.ReportMetric(launches/float64(b.N), "launches/s")
		})
	}
}
