package kernelspec

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestInstallPrefix(t *testing.T) {
	prefix := t.TempDir()
	dir, err := Install(Options{Prefix: prefix, Binary: "/usr/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(prefix, "share/jupyter/kernels/ordermerge"); dir != want {
		t.Fatalf("dir %s, want %s", dir, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if len(spec.Argv) != 3 || !filepath.IsAbs(spec.Argv[0]) || spec.Argv[1] != "kernel" || spec.Argv[2] != "{connection_file}" {
		t.Errorf("argv %v", spec.Argv)
	}
	if spec.Language != "go" || spec.DisplayName != "Go (ordermerge)" || spec.InterruptMode != "message" {
		t.Errorf("spec %+v", spec)
	}
	for _, size := range []int{32, 64} {
		f, err := os.Open(filepath.Join(dir, "logo-"+itoa(size)+"x"+itoa(size)+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			t.Errorf("logo %d has bounds %v", size, b)
		}
	}
	if _, err := Install(Options{Prefix: prefix, User: true}); err == nil {
		t.Error("--user with --prefix accepted")
	}
}

func TestUserDir(t *testing.T) {
	t.Setenv("JUPYTER_DATA_DIR", "/tmp/jd")
	d, err := Dir(Options{User: true})
	if err != nil || d != "/tmp/jd/kernels/ordermerge" {
		t.Fatalf("%s %v", d, err)
	}
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }
