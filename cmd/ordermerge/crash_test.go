package main

// The crash suite: merge and train are killed (SIGKILL, through the fault points of package
// tensor, not by timing) at every step of writing and committing their output, then run
// again. After the kill OUT is the old version or the new one, never missing or partial; the
// inputs are untouched; the next run leaves no temporaries and ends with the same bytes as a
// run that was never killed.

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/cluster"
	"github.com/ordermerge/ordermerge/internal/crashtest"
	"github.com/ordermerge/ordermerge/tensor"
)

// asCLIEnv set to 1 makes the test binary run as the command itself, so that crash tests kill
// real processes of it without building a second binary.
const asCLIEnv = "ORDERMERGE_TEST_AS_CLI"

// TestMain runs the command when asked to (asCLIEnv), the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv(asCLIEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// cliCommand prepares the command as a child process with extra environment.
func cliCommand(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), asCLIEnv+"=1"), env...)
	return cmd
}

// runChild runs the command as a child process with extra environment.
func runChild(t *testing.T, env []string, args ...string) crashtest.Result {
	t.Helper()
	r, err := crashtest.Run(cliCommand(env, args...))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// treeSnapshot hashes the files under dir (see crashtest.Snapshot).
func treeSnapshot(t *testing.T, dir string, skip func(name string) bool) string {
	t.Helper()
	s, err := crashtest.Snapshot(dir, skip)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// copyTree copies the folder src to dst (which must not exist).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// points returns the fault points a traced run reached.
func points(t *testing.T, trace string) []string {
	t.Helper()
	pts, err := crashtest.Points(trace)
	if err != nil {
		t.Fatal(err)
	}
	return pts
}

// entries lists a folder's names, sorted.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// noTemporaries fails when anything this project writes temporarily is left beside OUT or in
// it (recursively).
func noTemporaries(t *testing.T, out, when string) {
	t.Helper()
	for _, n := range entries(t, filepath.Dir(out)) {
		if strings.HasPrefix(n, "."+filepath.Base(out)+".") {
			t.Fatalf("%s: %s left beside %s", when, n, out)
		}
	}
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && tensor.IsTemporary(d.Name()) {
			t.Fatalf("%s: %s left in %s", when, p, out)
		}
		return nil
	})
}

// faultEnvs are the two ways a replacement can go: an atomic exchange, and the fallback of
// file systems without one.
var faultEnvs = []struct {
	name string
	env  []string
}{{"exchange", nil}, {"fallback", []string{crashtest.NoExchangeEnv + "=1"}}}

// A merge with --force is killed at every step of replacing an existing output.
func TestCrashMergeAtEveryStep(t *testing.T) {
	_, _, models := mergeFixture(t)
	for _, fe := range faultEnvs {
		t.Run(fe.name, func(t *testing.T) {
			root := t.TempDir()
			out := filepath.Join(root, "merged")
			pristine := filepath.Join(t.TempDir(), "old")
			args := func(weights string) []string {
				return []string{"merge", "--method", "linear", "--models", strings.Join(models, ","), "--weights", weights, "--out", out, "--force", "--quiet", "--out-shard-size", "100"}
			}
			if r := runChild(t, nil, args("0.5,0.3,0.2")...); r.Code != 0 {
				t.Fatalf("first merge: %s", r.Output)
			}
			copyTree(t, out, pristine)
			oldSnap := treeSnapshot(t, out, nil)
			inputs := treeSnapshot(t, filepath.Dir(models[0]), nil)

			trace := filepath.Join(t.TempDir(), "trace")
			if r := runChild(t, append(fe.env, crashtest.TraceEnv+"="+trace), args("0.2,0.3,0.5")...); r.Code != 0 {
				t.Fatalf("merge: %s", r.Output)
			}
			newSnap := treeSnapshot(t, out, nil)
			pts := points(t, trace)
			t.Logf("%d points: %s", len(pts), strings.Join(pts, " "))
			want := "checkpoint:exchanged#1"
			if fe.env != nil {
				want = "checkpoint:aside#1"
			}
			if !strings.Contains(strings.Join(pts, " "), want) || oldSnap == newSnap {
				t.Fatalf("the replacement did not go through %s: %v", want, pts)
			}
			for _, p := range pts {
				os.RemoveAll(out)
				copyTree(t, pristine, out)
				os.Remove(trace)
				r := runChild(t, append(fe.env, crashtest.TraceEnv+"="+trace, crashtest.FaultEnv+"="+p), args("0.2,0.3,0.5")...)
				if !r.Killed {
					t.Fatalf("%s: not killed (exit %d): %s", p, r.Code, r.Output)
				}
				got := treeSnapshot(t, out, tensor.IsTemporary)
				if got == "" && fe.env != nil {
					// The fallback's one window: the old version is aside, and the next
					// writer's lock puts it back. A reader is told so.
					r := runChild(t, nil, "inspect", out)
					if r.Code != 1 || !strings.Contains(r.Output, "the next run that writes "+out+" puts it back") {
						t.Fatalf("%s: inspecting the missing output: %s", p, r.Output)
					}
					l, err := tensor.LockFolder(out)
					if err != nil {
						t.Fatal(err)
					}
					l.Unlock()
					got = treeSnapshot(t, out, nil)
				}
				if got != oldSnap && got != newSnap {
					t.Fatalf("killed at %s: %s is neither the old merge nor the new one:\n%s", p, out, got)
				}
				if treeSnapshot(t, filepath.Dir(models[0]), nil) != inputs {
					t.Fatalf("killed at %s: the inputs changed", p)
				}
				if r := runChild(t, fe.env, args("0.2,0.3,0.5")...); r.Code != 0 {
					t.Fatalf("killed at %s, merging again: %s", p, r.Output)
				}
				if treeSnapshot(t, out, nil) != newSnap {
					t.Fatalf("killed at %s, merged again: not the same bytes as an uninterrupted merge", p)
				}
				noTemporaries(t, out, "killed at "+p+", merged again")
			}
		})
	}
}

// trainLogged leaves out what differs from run to run by design: the log (times, and the
// lines of the runs that were killed).
func trainLogged(name string) bool {
	// progress.json, like train.log, says when and by which process: not part of the bytes.
	return name == trainLogFile || name == cluster.ProgressFile || name == cluster.ProgressPartialFile || tensor.IsTemporary(name)
}

// A training run is killed at every step of writing each of its checkpoints (and the files
// beside them), then the same command is run again.
func TestCrashTrainAtEveryStep(t *testing.T) {
	root := t.TempDir()
	dataPath := filepath.Join(root, "data.jsonl")
	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, fmt.Sprintf(`{"prompt": "Spell %d.", "completion": " %s"}`, i, strings.Repeat("ab", i%4+1)))
	}
	if err := os.WriteFile(dataPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	initPath := tinyInitConfig(t)
	inputs := func() string { return treeSnapshot(t, root, nil) + treeSnapshot(t, filepath.Dir(initPath), nil) }
	before := inputs()
	for _, fe := range faultEnvs {
		t.Run(fe.name, func(t *testing.T) {
			outRoot := t.TempDir()
			out := filepath.Join(outRoot, "run")
			args := []string{"train", "--data", dataPath, "--init", initPath, "--epochs", "2", "--batch-size", "4", "--order-seed", "7",
				"--checkpoint-every", "2", "--checkpoint-interval", "0", "--quiet", "--out", out}

			trace := filepath.Join(t.TempDir(), "trace")
			if r := runChild(t, append(fe.env, crashtest.TraceEnv+"="+trace), args...); r.Code != 0 {
				t.Fatalf("train: %s", r.Output)
			}
			final := treeSnapshot(t, out, trainLogged)
			pts := points(t, trace)
			// The state after each checkpoint: killed right after its commit.
			var states []string
			for k := 1; ; k++ {
				p := fmt.Sprintf("checkpoint:done#%d", k)
				if !strings.Contains(strings.Join(pts, " "), p) {
					break
				}
				os.RemoveAll(out)
				if r := runChild(t, append(fe.env, crashtest.TraceEnv+"="+trace+".x", crashtest.FaultEnv+"="+p), args...); !r.Killed {
					t.Fatalf("%s: not killed: %s", p, r.Output)
				}
				os.Remove(trace + ".x")
				states = append(states, treeSnapshot(t, out, trainLogged))
			}
			if len(states) != 3 {
				t.Fatalf("%d checkpoints, want 3 (steps 2, 4 and the end)", len(states))
			}
			states = append(states, final)
			done := 0 // checkpoints committed before the point
			for i, p := range pts {
				if i > 0 && strings.HasPrefix(pts[i-1], "checkpoint:done#") {
					done++
				}
				if testing.Short() && !strings.HasPrefix(p, "checkpoint:") && !strings.HasPrefix(p, "discard:") && i%4 != 0 {
					continue // short mode: every step of each commit, a quarter of the file writes
				}
				os.RemoveAll(out)
				os.Remove(trace)
				r := runChild(t, append(fe.env, crashtest.TraceEnv+"="+trace, crashtest.FaultEnv+"="+p), args...)
				if !r.Killed {
					t.Fatalf("%s: not killed (exit %d): %s", p, r.Code, r.Output)
				}
				got := treeSnapshot(t, out, trainLogged)
				var allowed []string
				if done == 0 {
					allowed = append(allowed, "", treeSnapshot(t, out, func(n string) bool { return trainLogged(n) || !strings.HasPrefix(n, "tokenizer") }))
				} else {
					allowed = append(allowed, states[done-1])
				}
				allowed = append(allowed, states[done])
				if got == "" && fe.env != nil && done > 0 {
					l, err := tensor.LockFolder(out)
					if err != nil {
						t.Fatal(err)
					}
					l.Unlock()
					got = treeSnapshot(t, out, trainLogged)
				}
				ok := false
				for _, a := range allowed {
					ok = ok || got == a
				}
				if !ok {
					t.Fatalf("killed at %s (after %d checkpoints): %s is not the checkpoint before or after:\n%s", p, done, out, got)
				}
				if inputs() != before {
					t.Fatalf("killed at %s: the inputs changed", p)
				}
				r = runChild(t, fe.env, args...)
				if r.Code != 0 {
					t.Fatalf("killed at %s, run again: %s", p, r.Output)
				}
				if treeSnapshot(t, out, trainLogged) != final {
					t.Fatalf("killed at %s, run again: not the same bytes as an uninterrupted run", p)
				}
				noTemporaries(t, out, "killed at "+p+", run again")
			}
		})
	}
}

// Variants are killed at every step of committing their checkpoints (long mode): each
// variant's folder is then a complete checkpoint or none, and the rerun ends with the bytes
// of an uninterrupted run.
func TestCrashTrainVariantsAtEveryCommitStep(t *testing.T) {
	if testing.Short() {
		t.Skip("long mode only: the single-run crash test covers the same commits")
	}
	initPath := tinyInitConfig(t)
	// The fallback only: its window (a variant's folder set aside) is what a variants run must
	// repair before it looks at the folder; the exchange is covered by the single-run test.
	for _, fe := range faultEnvs[1:] {
		t.Run(fe.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "vars")
			args := []string{"train", "--data", "embedded:strings", "--limit", "8", "--init", initPath, "--epochs", "1", "--batch-size", "4",
				"--variants", "2", "--checkpoint-every", "1", "--checkpoint-interval", "0", "--quiet", "--out", out}
			trace := filepath.Join(t.TempDir(), "trace")
			if r := runChild(t, append(fe.env, crashtest.TraceEnv+"="+trace), args...); r.Code != 0 {
				t.Fatalf("train: %s", r.Output)
			}
			final := treeSnapshot(t, out, trainLogged)
			for _, p := range points(t, trace) {
				if !strings.HasPrefix(p, "checkpoint:") {
					continue
				}
				os.RemoveAll(out)
				if r := runChild(t, append(fe.env, crashtest.TraceEnv+"="+trace+".x", crashtest.FaultEnv+"="+p), args...); !r.Killed {
					t.Fatalf("%s: not killed: %s", p, r.Output)
				}
				os.Remove(trace + ".x")
				for i := 0; i < 2; i++ {
					dir := filepath.Join(out, fmt.Sprintf("variant-%d", i))
					if _, err := os.Stat(dir); err != nil {
						// Only the fallback's window, with the old version aside for the
						// next run (which must put it back, not start the variant over).
						aside, _ := filepath.Glob(filepath.Join(out, fmt.Sprintf(".variant-%d.old-*", i)))
						if fe.env == nil || len(aside) != 1 {
							t.Fatalf("killed at %s: variant %d is missing (set aside: %v)", p, i, aside)
						}
						continue
					}
					if _, err := os.Stat(filepath.Join(dir, "trainer_state.json")); err != nil {
						continue
					}
					if ck, err := tensor.OpenCheckpoint(dir); err != nil {
						t.Fatalf("killed at %s: variant %d is not a complete checkpoint: %v", p, i, err)
					} else {
						ck.Close()
					}
				}
				rerun := filepath.Join(t.TempDir(), "rerun")
				if r := runChild(t, append(fe.env, crashtest.TraceEnv+"="+rerun), args...); r.Code != 0 {
					t.Fatalf("killed at %s, run again: %s", p, r.Output)
				}
				if treeSnapshot(t, out, trainLogged) != final {
					t.Fatalf("killed at %s, run again: not the same bytes as an uninterrupted run", p)
				}
				noTemporaries(t, out, "killed at "+p+", run again")
				if p == "checkpoint:aside#2" {
					// Variant 0's first checkpoint (of step 1) was set aside: put back, it is
					// resumed, so the rerun commits 3 checkpoints (variant 0's last, variant
					// 1's two), not 4. (Aside #1 is the folder with only the tokenizer, which
					// the first checkpoint replaces.)
					b, _ := os.ReadFile(rerun)
					if n := strings.Count(string(b), "checkpoint:done"); n != 3 {
						t.Fatalf("killed at %s, the rerun wrote %d checkpoints: the set-aside one was not resumed:\n%s", p, n, b)
					}
				}
			}
		})
	}
}
