package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestInspectCheckpointJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	var ts []*tensor.Tensor
	for i := 0; i < 3; i++ {
		tt, err := tensor.FromFloat32("w"+string(rune('a'+i)), []int{4, 4}, make([]float32, 16), tensor.BF16)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tt)
	}
	cfg := tensor.NewLlamaConfig(8, 16, 1, 2, 2, 32, 64)
	if err := tensor.SaveCheckpoint(dir, cfg, ts, tensor.CheckpointOptions{MaxShardSize: 40}); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runCLI(t, "inspect", "--json", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep inspectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Tensors) != 3 || len(rep.Files) != 3 || rep.TotalParams != 48 || rep.TotalBytes != 96 || rep.Config.HiddenSize != 8 {
		t.Fatalf("report %+v", rep)
	}
	out, _, code = runCLI(t, "inspect", "--stats", dir)
	if code != 0 || !strings.Contains(out, "total: 48 parameters") || !strings.Contains(out, "wb") {
		t.Fatalf("text output (%d):\n%s", code, out)
	}
}

func TestInspectBadFileOneLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, []byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}         "), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runCLI(t, "inspect", path)
	if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, path) || !strings.Contains(errs, `tensor "a"`) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	_, errs, code = runCLI(t, "inspect", filepath.Join(t.TempDir(), "missing"))
	if code != 1 || strings.Count(errs, "\n") != 1 {
		t.Fatalf("missing path: exit %d, %q", code, errs)
	}
	_, _, code = runCLI(t, "inspect")
	if code != 2 {
		t.Fatalf("no path: exit %d", code)
	}
	_, _, code = runCLI(t, "no-such-command")
	if code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
}
