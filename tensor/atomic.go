package tensor

import (
	"fmt"
	"os"
	"path/filepath"
)

// AtomicFile is a file being written under a temporary name in its destination folder. Commit
// makes it appear at its final path in one rename, after its data reached the disk; Abort (or
// never committing) leaves the destination untouched.
type AtomicFile struct {
	*os.File
	path string
	done bool
}

// CreateAtomic starts writing path atomically. The temporary file lives in path's folder, so
// the final rename never crosses file systems.
func CreateAtomic(path string) (*AtomicFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPattern(base, tmpKind))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	return &AtomicFile{File: f, path: path}, nil
}

// Path is the final path of the file.
func (a *AtomicFile) Path() string { return a.path }

// Commit flushes the data to disk, closes the file and renames it into place, replacing any
// file already there, then syncs the folder so the rename itself is durable.
func (a *AtomicFile) Commit() error {
	if a.done {
		return fmt.Errorf("%s: already committed or aborted", a.path)
	}
	a.done = true
	tmp := a.File.Name()
	fail := func(err error) error {
		a.File.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", a.path, err)
	}
	if err := a.File.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := a.File.Sync(); err != nil {
		return fail(err)
	}
	if err := a.File.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", a.path, err)
	}
	faultPoint("file:synced")
	if err := os.Rename(tmp, a.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", a.path, err)
	}
	faultPoint("file:renamed")
	return syncDir(filepath.Dir(a.path))
}

// Abort discards the temporary file. It is safe to call after Commit (it does nothing).
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	tmp := a.File.Name()
	a.File.Close()
	os.Remove(tmp)
}

// WriteFileAtomic writes data to path atomically (temporary file, fsync, rename).
func WriteFileAtomic(path string, data []byte) error {
	f, err := CreateAtomic(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	return nil
}
