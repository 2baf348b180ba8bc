package tensor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FolderLock is the exclusive right to write one output folder (a checkpoint, a training run's
// folder). Two runs writing the same folder would interleave their files and both report
// success; with the lock, the second is refused at once with the holder's PID. The lock is a
// file beside the folder, ".NAME.lock" (not inside it: a checkpoint replaces its folder as a
// whole), locked with flock(2), so it is released by the kernel when its process exits however
// it exits: a killed run never leaves a folder locked.
type FolderLock struct {
	dir, path string
	f         *os.File
	notes     []string
}

// LockedError reports a folder locked by another run.
type LockedError struct {
	Dir string
	// PID and Host name the holder (PID 0 when the lock file could not be read); Since is when
	// it took the lock.
	PID   int
	Host  string
	Since time.Time
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "process " + strconv.Itoa(e.PID)
		if e.PID == os.Getpid() && e.Host == hostToken() {
			who += " (this one)"
		} else if e.Host != "" && e.Host != hostToken() {
			who += " on host " + e.Host
		}
		if !e.Since.IsZero() {
			who += ", since " + e.Since.Format(time.RFC3339)
		}
	}
	return fmt.Sprintf("%s is being written by %s; wait for that run to finish (or stop it), or choose another output", e.Dir, who)
}

// lockPath is the lock file of dir.
func lockPath(dir string) string {
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".lock")
}

// LockFolder takes the lock of the output folder dir, which need not exist (its parent is
// created). It fails at once with a *LockedError when another run holds it. Holding the lock,
// it then repairs what killed runs left behind: a folder that an interrupted replacement set
// aside is put back when dir is missing, and temporaries of processes that are no longer
// running are removed (Notes says what was done). Temporaries of live processes are never
// touched.
func LockFolder(dir string) (*FolderLock, error) {
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	l := &FolderLock{dir: dir, path: lockPath(dir)}
	if err := l.acquire(); err != nil {
		return nil, err
	}
	notes, err := recoverFolder(dir)
	l.notes = notes
	if err != nil {
		l.Unlock()
		return nil, err
	}
	return l, nil
}

// acquire opens, locks and fills in the lock file, retrying when the file it locked was
// removed by a holder that just let go (its lock then guards nothing).
func (l *FolderLock) acquire() error {
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("locking %s: %w", l.dir, err)
		}
		if err := lockFile(f); err != nil {
			defer f.Close()
			if errors.Is(err, errLocked) {
				return holderOf(l.dir, f)
			}
			return fmt.Errorf("locking %s (%s): %w", l.dir, l.path, err)
		}
		onDisk, err1 := os.Stat(l.path)
		held, err2 := f.Stat()
		if err1 != nil || err2 != nil || !os.SameFile(onDisk, held) {
			f.Close()
			if attempt > 100 {
				return fmt.Errorf("locking %s: the lock file %s keeps being replaced", l.dir, l.path)
			}
			continue
		}
		info := fmt.Sprintf("%s %d\n", self().token(), time.Now().Unix())
		if err := f.Truncate(0); err == nil {
			_, err = f.WriteAt([]byte(info), 0)
		}
		l.f = f
		return nil
	}
}

// holderOf reads who holds the lock from the lock file's contents.
func holderOf(dir string, f *os.File) error {
	e := &LockedError{Dir: dir}
	b := make([]byte, 512)
	n, _ := f.ReadAt(b, 0)
	fields := strings.Fields(string(b[:n]))
	if len(fields) >= 1 {
		if o, ok := parseOwner(fields[0] + "-x"); ok {
			e.PID, e.Host = o.pid, o.host
		}
	}
	if len(fields) >= 2 {
		if sec, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
			e.Since = time.Unix(sec, 0)
		}
	}
	return e
}

// Dir is the locked folder.
func (l *FolderLock) Dir() string { return l.dir }

// Notes describes what taking the lock repaired (a folder put back, temporaries removed), one
// line each, for a run's log.
func (l *FolderLock) Notes() []string { return append([]string(nil), l.notes...) }

// held reports whether l is a lock, still held, of dir.
func (l *FolderLock) held(dir string) bool {
	if l == nil || l.f == nil {
		return false
	}
	a, err1 := filepath.Abs(l.dir)
	b, err2 := filepath.Abs(filepath.Clean(dir))
	return err1 == nil && err2 == nil && a == b
}

// Unlock releases the lock and removes the lock file. It is safe to call twice.
func (l *FolderLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Removed while still locked, so no other run can be holding this file: a run that opened
	// it meanwhile sees it gone once it gets the lock, and starts over with a new file.
	os.Remove(l.path)
	err := l.f.Close()
	l.f = nil
	return err
}

// Discard removes the locked folder as one step that cannot be seen half done: it is renamed
// to a temporary name (garbage that the next LockFolder of a later run removes, should this
// process be killed now) and deleted from there. A missing folder is not an error.
func (l *FolderLock) Discard() error {
	if l == nil || l.f == nil {
		return fmt.Errorf("discarding a folder without holding its lock")
	}
	if _, err := os.Lstat(l.dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	trash, err := tempName(l.dir, "tmp")
	if err != nil {
		return err
	}
	if err := os.Rename(l.dir, trash); err != nil {
		return fmt.Errorf("discarding %s: %w", l.dir, err)
	}
	faultPoint("discard:renamed")
	if err := syncDir(filepath.Dir(l.dir)); err != nil {
		return err
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("discarding %s (now %s): %w", l.dir, trash, err)
	}
	return nil
}
