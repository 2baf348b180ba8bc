package tensor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The helper process of the lock tests: it takes the lock named by the variable, says so on
// stdout and holds it until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ORDERMERGE_TEST_HOLD_LOCK"); dir != "" {
		l, err := LockFolder(dir)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		l.Unlock()
		os.Exit(0)
	}
	if dir := os.Getenv("ORDERMERGE_TEST_CRASH_SAVE"); dir != "" {
		os.Exit(crashSave(dir))
	}
	os.Exit(m.Run())
}

// holdLock starts a process holding dir's lock and returns it once it holds it.
func holdLock(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ORDERMERGE_TEST_HOLD_LOCK="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("lock holder: %q", line)
	}
	return cmd
}

func TestLockFolderRefusesASecondWriterWithTheHoldersPID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	holder := holdLock(t, dir)
	_, err := LockFolder(dir)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != holder.Process.Pid {
		t.Fatalf("second lock: %v (want the holder's PID %d)", err, holder.Process.Pid)
	}
	want := fmt.Sprintf("%s is being written by process %d, since ", dir, holder.Process.Pid)
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "choose another output") {
		t.Errorf("message %q, want it to contain %q", err, want)
	}
	// A killed holder leaves its lock file, but no lock: the kernel released it.
	holder.Process.Kill()
	holder.Wait()
	if _, err := os.Stat(lockPath(dir)); err != nil {
		t.Fatalf("the killed holder's lock file: %v", err)
	}
	l, err := LockFolder(dir)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	// In one process, a second lock of the same folder is refused too (two cells of a notebook).
	if _, err := LockFolder(dir); err == nil || !strings.Contains(err.Error(), "(this one)") {
		t.Errorf("second lock in the same process: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lockPath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left after Unlock: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
}

func TestCheckpointWriterTakesTheLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	ts := testTensors(t)
	w, err := CreateCheckpoint(dir, []Spec{SpecOf(ts[0])}, CheckpointOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveCheckpoint(dir, nil, ts, CheckpointOptions{Overwrite: true}); err == nil || !strings.Contains(err.Error(), "is being written by process") {
		t.Fatalf("a second writer while the first is at work: %v", err)
	}
	w.Abort()
	// A caller holding the lock passes it; a lock of another folder is refused.
	l, err := LockFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if err := SaveCheckpoint(dir, nil, ts, CheckpointOptions{Lock: l}); err != nil {
		t.Fatal(err)
	}
	if err := SaveCheckpoint(dir, nil, ts, CheckpointOptions{Lock: l, Overwrite: true}); err != nil {
		t.Fatalf("second save under the same lock: %v", err)
	}
	other, err := LockFolder(dir + "2")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Unlock()
	if err := SaveCheckpoint(dir, nil, ts, CheckpointOptions{Lock: other, Overwrite: true}); err == nil || !strings.Contains(err.Error(), "not a held lock of this folder") {
		t.Fatalf("a lock of another folder: %v", err)
	}
}

// deadOwner is an owner token of a process that has exited.
func deadOwner(t *testing.T) owner {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return owner{host: hostToken(), pid: cmd.Process.Pid, start: 1}
}

func mkTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func listDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

func TestLockFolderRemovesTemporariesOfDeadProcessesOnly(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "out")
	dead := deadOwner(t)
	reused := self()
	reused.start++ // our PID, but another start time: a PID reused since its owner died
	live := holdLock(t, filepath.Join(root, "elsewhere")).Process.Pid
	liveOwner := owner{host: hostToken(), pid: live, start: processStart(live)}
	otherHost := owner{host: "another.host", pid: dead.pid, start: 1}
	mkTree(t, root, map[string]string{
		"out/config.json": "{}",
		"out/.config.json.tmp-" + dead.token() + "-11":      "partial",
		"out/.config.json.tmp-" + self().token() + "-12":    "ours, in progress",
		".out.tmp-" + dead.token() + "-1/model.safetensors": "300 MB, say",
		".out.old-" + dead.token() + "-2/model.safetensors": "the version before, replaced since",
		".out.tmp-" + reused.token() + "-3/x":               "x",
		".out.tmp-" + liveOwner.token() + "-4/x":            "being written",
		".out.tmp-" + self().token() + "-5/x":               "being written by us",
		".out.tmp-" + otherHost.token() + "-6/x":            "cannot be checked from here",
		".out.tmp-123456789/x":                              "an older version's: owner unknown",
	})
	l, err := LockFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	kept := []string{".elsewhere.lock", ".out.lock", ".out.tmp-123456789", ".out.tmp-" + otherHost.token() + "-6", ".out.tmp-" + liveOwner.token() + "-4", ".out.tmp-" + self().token() + "-5", "out"}
	sort.Strings(kept)
	if got, want := listDir(t, root), strings.Join(kept, " "); got != want {
		t.Errorf("left:\n%s\nwant:\n%s", got, want)
	}
	if got, want := listDir(t, dir), ".config.json.tmp-"+self().token()+"-12 config.json"; got != want {
		t.Errorf("inside: %s, want %s", got, want)
	}
	notes := strings.Join(l.Notes(), "\n")
	if !strings.Contains(notes, fmt.Sprintf("removed .out.tmp-%s-1 (11 B) left by process %d, which is no longer running", dead.token(), dead.pid)) || strings.Count(notes, "removed") != 4 {
		t.Errorf("notes:\n%s", notes)
	}
}

func TestLockFolderPutsBackAFolderSetAside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "out")
	dead := deadOwner(t)
	older := ".out.old-" + dead.token() + "-1"
	newer := ".out.old-" + dead.token() + "-2"
	mkTree(t, root, map[string]string{older + "/v": "1", newer + "/v": "2", ".out.tmp-" + dead.token() + "-3/v": "3, complete but never placed"})
	past := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(root, older), past, past)
	if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "the next run that writes") {
		t.Errorf("reading the missing folder: %v", err)
	}
	l, err := LockFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if b, err := os.ReadFile(filepath.Join(dir, "v")); err != nil || string(b) != "2" {
		t.Fatalf("restored %q, %v; want the newest version set aside", b, err)
	}
	if got := listDir(t, root); got != ".out.lock out" {
		t.Errorf("left: %s", got)
	}
	if n := l.Notes(); len(n) != 3 || !strings.HasPrefix(n[0], "restored "+dir+" from "+newer) {
		t.Errorf("notes %q", n)
	}
}

func TestDiscardRemovesTheFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	mkTree(t, dir, map[string]string{"a": "1", "b/c": "2"})
	l, err := LockFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Discard(); err != nil {
		t.Fatal(err)
	}
	if err := l.Discard(); err != nil {
		t.Fatalf("discarding a missing folder: %v", err)
	}
	l.Unlock()
	if got := listDir(t, filepath.Dir(dir)); got != "" {
		t.Errorf("left: %s", got)
	}
}

func TestReplaceByExchangeAndByFallback(t *testing.T) {
	for _, noExchange := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "ckpt")
		ts := testTensors(t)
		if err := SaveCheckpoint(dir, nil, ts, CheckpointOptions{MaxShardSize: 40}); err != nil {
			t.Fatal(err)
		}
		if err := SaveCheckpoint(dir, nil, ts[:1], CheckpointOptions{Overwrite: true, noExchange: noExchange}); err != nil {
			t.Fatal(err)
		}
		c, err := OpenCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Names()) != 1 || len(c.Files()) != 1 {
			t.Errorf("noExchange=%v: replaced by %v in %v", noExchange, c.Names(), c.Files())
		}
		c.Close()
		if got := listDir(t, filepath.Dir(dir)); got != "ckpt" {
			t.Errorf("noExchange=%v: left %s", noExchange, got)
		}
		if got := listDir(t, dir); got != SingleFile {
			t.Errorf("noExchange=%v: folder holds %s", noExchange, got)
		}
	}
}

// A folder set aside by a version before owner-named temporaries (".OUT.tmp-DIGITS.old", the
// state the issue found after a kill) is put back when the folder is missing, and otherwise
// left alone: its owner cannot be told.
func TestLockFolderPutsBackAnOlderVersionsAside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "out")
	mkTree(t, root, map[string]string{".out.tmp-123456.old/v": "old", ".out.tmp-99": "an older version's work"})
	l, err := LockFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "v")); err != nil || string(b) != "old" {
		t.Fatalf("not put back: %q, %v", b, err)
	}
	if n := l.Notes(); len(n) != 1 || !strings.Contains(n[0], "from .out.tmp-123456.old, where an older version set it aside") {
		t.Errorf("notes %q", n)
	}
	l.Unlock()
	mkTree(t, root, map[string]string{".out.tmp-777.old/v": "older"})
	l, err = LockFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	if got := listDir(t, root); got != ".out.tmp-777.old .out.tmp-99 out" {
		t.Errorf("left: %s", got)
	}
}
