package tensor

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Temporaries beside an output folder OUT, all named after their owner (see owner):
//
//	.OUT.tmp-OWNER-RANDOM  a new version being built, or (after an exchange) the old version
//	                       being deleted; garbage once its owner is dead
//	.OUT.old-OWNER-RANDOM  the previous version, set aside by a replacement without an atomic
//	                       exchange; the real OUT if OUT is missing and its owner is dead
//
// and inside OUT, ".FILE.tmp-OWNER-RANDOM" for a file being written atomically.
const (
	tmpKind = "tmp"
	oldKind = "old"
)

// tempPrefix is the name prefix of dir's temporaries of a kind, owner not included.
func tempPrefix(dir, kind string) string { return "." + filepath.Base(dir) + "." + kind + "-" }

// tempPattern is a MkdirTemp/CreateTemp pattern for a temporary of dir owned by this process.
func tempPattern(dir, kind string) string { return tempPrefix(dir, kind) + self().token() + "-*" }

// tempName returns an unused path for a temporary of dir owned by this process.
func tempName(dir, kind string) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(dir), tempPrefix(dir, kind)+self().token()+"-"+hex.EncodeToString(b[:])), nil
}

// IsTemporary reports whether a file name is one of the temporaries or lock files this package
// writes (".NAME.tmp-...", ".NAME.old-...", ".NAME.lock"): what a listing of an output folder
// should not count as content.
func IsTemporary(name string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	return strings.HasSuffix(name, ".lock") || strings.Contains(name, ".tmp-") || strings.Contains(name, ".old-")
}

type leftover struct {
	path  string
	kind  string
	owner owner
	mtime int64
}

// legacyAside matches the folder that versions before owner-named temporaries set aside,
// ".OUT.tmp-DIGITS.old": when OUT is missing, it is the last version, and is put back too.
var legacyAside = regexp.MustCompile(`^\.(.+)\.tmp-[0-9]+\.old$`)

// leftovers lists dir's temporaries of dead owners. Temporaries whose owner cannot be read
// from the name (written by older versions) are left alone: nothing says they are garbage.
func leftovers(dir string) ([]leftover, error) {
	parent := filepath.Dir(dir)
	entries, err := os.ReadDir(parent)
	if err != nil {
		return nil, fmt.Errorf("looking for leftovers of %s: %w", dir, err)
	}
	var out []leftover
	for _, e := range entries {
		if m := legacyAside.FindStringSubmatch(e.Name()); m != nil && m[1] == filepath.Base(dir) {
			lo := leftover{path: filepath.Join(parent, e.Name()), kind: oldKind, owner: owner{host: "an older version"}}
			if info, err := e.Info(); err == nil {
				lo.mtime = info.ModTime().UnixNano()
			}
			out = append(out, lo)
			continue
		}
		for _, kind := range []string{tmpKind, oldKind} {
			rest, ok := strings.CutPrefix(e.Name(), tempPrefix(dir, kind))
			if !ok {
				continue
			}
			o, ok := parseOwner(rest)
			if !ok || o.alive() {
				continue
			}
			lo := leftover{path: filepath.Join(parent, e.Name()), kind: kind, owner: o}
			if info, err := e.Info(); err == nil {
				lo.mtime = info.ModTime().UnixNano()
			}
			out = append(out, lo)
		}
	}
	return out, nil
}

// recoverFolder repairs dir after killed runs (its caller holds dir's lock): when dir is
// missing and a dead process had set the previous version aside, that version is put back;
// then every temporary of a dead process is removed, beside dir and inside it. It returns a
// line per thing done.
func recoverFolder(dir string) ([]string, error) {
	los, err := leftovers(dir)
	if err != nil {
		return nil, err
	}
	var notes []string
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		var asides []leftover
		for _, lo := range los {
			if lo.kind == oldKind {
				asides = append(asides, lo)
			}
		}
		if len(asides) > 0 {
			// Each replacement sets aside the folder it found; the newest is the last version.
			// Ours come before an older version's.
			sort.Slice(asides, func(i, j int) bool {
				if (asides[i].owner.pid == 0) != (asides[j].owner.pid == 0) {
					return asides[j].owner.pid == 0
				}
				return asides[i].mtime > asides[j].mtime
			})
			if err := os.Rename(asides[0].path, dir); err != nil {
				return notes, fmt.Errorf("restoring %s from %s: %w", dir, asides[0].path, err)
			}
			if err := syncDir(filepath.Dir(dir)); err != nil {
				return notes, err
			}
			faultPoint("recover:restored")
			who := fmt.Sprintf("process %d", asides[0].owner.pid)
			if asides[0].owner.pid == 0 {
				who = asides[0].owner.host
			}
			notes = append(notes, fmt.Sprintf("restored %s from %s, where %s set it aside before it was killed", dir, filepath.Base(asides[0].path), who))
			for i, lo := range los {
				if lo.path == asides[0].path {
					los = append(los[:i], los[i+1:]...)
					break
				}
			}
		}
	} else if err != nil {
		return nil, fmt.Errorf("checking %s: %w", dir, err)
	}
	for _, lo := range los {
		if lo.owner.pid == 0 {
			continue // an older version's: put back when it is the only copy, never removed
		}
		size := treeSize(lo.path)
		if err := os.RemoveAll(lo.path); err != nil {
			return notes, fmt.Errorf("removing %s, left by process %d: %w", lo.path, lo.owner.pid, err)
		}
		notes = append(notes, fmt.Sprintf("removed %s (%s) left by process %d, which is no longer running", filepath.Base(lo.path), FormatBytes(size), lo.owner.pid))
	}
	inside, err := os.ReadDir(dir)
	if err != nil {
		return notes, nil // no folder (yet), or not a folder: nothing inside to clean
	}
	for _, e := range inside {
		i := strings.LastIndex(e.Name(), "."+tmpKind+"-")
		if !strings.HasPrefix(e.Name(), ".") || i < 0 {
			continue
		}
		o, ok := parseOwner(e.Name()[i+len(tmpKind)+2:])
		if !ok || o.alive() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(p); err != nil {
			return notes, fmt.Errorf("removing %s, left by process %d: %w", p, o.pid, err)
		}
		notes = append(notes, fmt.Sprintf("removed %s left by process %d, which is no longer running", p, o.pid))
	}
	if len(notes) > 0 {
		faultPoint("recover:cleaned")
	}
	return notes, nil
}

// treeSize is the number of bytes of the files under path (what removing it frees).
func treeSize(path string) int64 {
	var n int64
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// asideHint explains a missing folder that an interrupted replacement set aside, for the error
// of a reader that cannot find it; "" when there is nothing to say.
func asideHint(dir string) string {
	los, err := leftovers(filepath.Clean(dir))
	if err != nil {
		return ""
	}
	for _, lo := range los {
		if lo.kind == oldKind {
			return fmt.Sprintf(" (a replacement of it was interrupted: the previous version is in %s; the next run that writes %s puts it back)", lo.path, dir)
		}
	}
	return ""
}
