package tensor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/internal/crashtest"
)

// crashVersion returns the tensors of version v of a small checkpoint (v changes the values
// and, from version 2 on, the number of tensors, so versions differ in files too).
func crashVersion(v int) ([]*Tensor, *Config) {
	var out []*Tensor
	for i := 0; i < 3+v; i++ {
		vals := make([]float32, 8*(i+1))
		for j := range vals {
			vals[j] = float32(v*100 + i*10 + j)
		}
		t, _ := FromFloat32(fmt.Sprintf("layers.%d.w", i), []int{i + 1, 8}, vals, F32)
		out = append(out, t)
	}
	return out, NewLlamaConfig(8*v, 16, 1, 2, 2, 32, 64)
}

// crashSave is the process that crash tests kill: it replaces dir with version 2.
func crashSave(dir string) int {
	shard, _ := strconv.ParseInt(os.Getenv("ORDERMERGE_TEST_CRASH_SHARD"), 10, 64)
	ts, cfg := crashVersion(2)
	if err := SaveCheckpoint(dir, cfg, ts, CheckpointOptions{Overwrite: true, MaxShardSize: shard}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// snapshot hashes every file under dir by relative path; "" for a missing dir.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	s, err := crashtest.Snapshot(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runCrashSave runs crashSave in a child process with the given extra environment and reports
// whether it was killed by the fault point.
func runCrashSave(t *testing.T, dir string, env ...string) (killed bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "ORDERMERGE_TEST_CRASH_SAVE="+dir), env...)
	r, err := crashtest.Run(cmd)
	if err != nil || (!r.Killed && r.Code != 0) {
		t.Fatalf("crash helper: %v %+v", err, r)
	}
	return r.Killed
}

// Kill a replacement of a checkpoint at every step of writing and committing it: the folder
// is always the old version or the new one, the next run puts the new one in place, and
// nothing is left beside it.
func TestCrashAtEveryStepOfAReplacement(t *testing.T) {
	for _, c := range []struct {
		name       string
		shard      string
		noExchange bool
	}{{"single", "0", false}, {"sharded", "100", false}, {"sharded-fallback", "100", true}, {"single-fallback", "0", true}} {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && c.shard == "0" {
				t.Skip("short: the sharded cases cover every step of a commit")
			}
			root := t.TempDir()
			dir := filepath.Join(root, "ckpt")
			env := []string{"ORDERMERGE_TEST_CRASH_SHARD=" + c.shard}
			if c.noExchange {
				env = append(env, crashtest.NoExchangeEnv+"=1")
			}
			reset := func() {
				os.RemoveAll(root)
				os.MkdirAll(root, 0o755)
				ts, cfg := crashVersion(1)
				if err := SaveCheckpoint(dir, cfg, ts, CheckpointOptions{MaxShardSize: 100}); err != nil {
					t.Fatal(err)
				}
			}
			reset()
			oldSnap := snapshot(t, dir)
			trace := filepath.Join(t.TempDir(), "trace")
			if runCrashSave(t, dir, append(env, crashtest.TraceEnv+"="+trace)...) {
				t.Fatal("killed without a fault set")
			}
			newSnap := snapshot(t, dir)
			b, _ := os.ReadFile(trace)
			points, err := crashtest.Points(trace)
			if err != nil {
				t.Fatal(err)
			}
			step := "checkpoint:exchanged"
			if c.noExchange {
				step = "checkpoint:aside"
			}
			if len(points) < 8 || !strings.Contains(string(b), step) {
				t.Fatalf("trace, without %s: %v", step, points)
			}
			for i, p := range points {
				if testing.Short() && strings.HasPrefix(p, "file:") && i > 2 {
					continue // short: the steps of the commit, and the first files' writes
				}
				reset()
				os.Remove(trace)
				if !runCrashSave(t, dir, append(env, crashtest.TraceEnv+"="+trace, crashtest.FaultEnv+"="+p)...) {
					t.Fatalf("%s: not killed", p)
				}
				got := snapshot(t, dir)
				if got == "" && c.noExchange {
					// The fallback's window: the old version is aside; any writer's lock puts
					// it back.
					l, err := LockFolder(dir)
					if err != nil {
						t.Fatal(err)
					}
					l.Unlock()
					got = snapshot(t, dir)
				}
				if got != oldSnap && got != newSnap {
					t.Fatalf("killed at %s: the folder is neither the old nor the new version:\n%s", p, got)
				}
				if runCrashSave(t, dir, env...) {
					t.Fatal("killed without a fault set")
				}
				if snapshot(t, dir) != newSnap {
					t.Fatalf("killed at %s, then run again: not the new version", p)
				}
				if got := listDir(t, root); got != "ckpt" {
					t.Fatalf("killed at %s, then run again: left %s", p, got)
				}
			}
		})
	}
}
