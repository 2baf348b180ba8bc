package devices

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{"": "cpu", "CPU": "cpu", "cuda": "cuda:0", "gpu": "cuda:0", "cuda:3": "cuda:3"} {
		n, err := Parse(in)
		if err != nil || n.String() != want {
			t.Errorf("Parse(%q) = %v, %v; want %s", in, n, err, want)
		}
	}
	for _, in := range []string{"cuda:-1", "cuda:x", "tpu", "cuda:"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
}

func TestOpenCPU(t *testing.T) {
	d, err := Open("cpu", Options{Backend: "go", Threads: 1})
	if err != nil || d.Name() != "cpu" {
		t.Fatalf("Open(cpu) = %v, %v", d, err)
	}
	if _, err := Open("cpu", Options{Backend: "tpu"}); err == nil {
		t.Fatal("unknown backend accepted")
	}
}

// On a machine without the NVIDIA driver, choosing CUDA fails with one line that names what
// is missing and where it was looked for.
func TestOpenCUDAWithoutDriver(t *testing.T) {
	d, err := Open("cuda", Options{CUDALibDir: t.TempDir()})
	if err == nil {
		t.Skipf("this machine has a usable GPU (%s): nothing to check", d.Describe())
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !strings.Contains(msg, "libcuda.so.1") && !strings.Contains(msg, "no GPU") {
		t.Errorf("error does not say what is missing: %q", msg)
	}
	t.Log(msg)
}
