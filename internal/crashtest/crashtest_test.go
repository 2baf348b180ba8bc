package crashtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestPointsAndReached(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "trace")
	os.WriteFile(trace, []byte("a:x\nb\na:x\n"), 0o644)
	pts, err := Points(trace)
	if err != nil || strings.Join(pts, " ") != "a:x#1 b#1 a:x#2" {
		t.Fatalf("points %v, %v", pts, err)
	}
	b, _ := os.ReadFile(trace)
	if !Reached(b, "a:x#2") || Reached(b, "a:x#1") || !Reached(b, "b#1") || Reached(b, "a#2") {
		t.Fatal("Reached counts wrongly")
	}
}

func TestSnapshotAndRun(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(dir, "skip"), []byte("2"), 0o644)
	a, err := Snapshot(dir, func(n string) bool { return n == "skip" })
	if err != nil || !strings.HasPrefix(a, "sub/f ") || strings.Contains(a, "skip") {
		t.Fatalf("snapshot %q, %v", a, err)
	}
	os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("3"), 0o644)
	if b, _ := Snapshot(dir, nil); b == a {
		t.Fatal("a changed file gives the same snapshot")
	}
	if s, err := Snapshot(filepath.Join(dir, "none"), nil); s != "" || err != nil {
		t.Fatalf("missing folder: %q, %v", s, err)
	}
	r, err := Run(exec.Command("sh", "-c", "kill -9 $$"))
	if err != nil || !r.Killed {
		t.Fatalf("killed child: %+v, %v", r, err)
	}
	r, err = Run(exec.Command("sh", "-c", "echo hi; exit 3"))
	if err != nil || r.Killed || r.Code != 3 || r.Output != "hi\n" {
		t.Fatalf("exiting child: %+v, %v", r, err)
	}
}
