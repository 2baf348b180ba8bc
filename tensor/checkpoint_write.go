package tensor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CheckpointOptions control how a checkpoint folder is written.
type CheckpointOptions struct {
	// MaxShardSize splits the tensors into model-0000i-of-0000N.safetensors files of at most
	// this many data bytes each (a tensor larger than that gets a shard of its own). Zero
	// writes a single model.safetensors.
	MaxShardSize int64
	// Metadata goes into every file's __metadata__. When nil, {"format": "pt"} is written,
	// which transformers requires before it loads a safetensors checkpoint.
	Metadata map[string]string
	// Overwrite replaces an existing folder at the destination (only once the new one is
	// complete). Without it, an existing destination is an error before any work is done.
	Overwrite bool
	// Lock is the caller's lock of the destination (LockFolder), for a caller that writes the
	// folder several times, or other files beside it, under one lock (a training run). When
	// nil, CreateCheckpoint takes the lock itself and holds it until Commit or Abort.
	Lock *FolderLock

	// noExchange makes Commit take the fallback path of file systems without an atomic
	// exchange (tests of that path).
	noExchange bool
}

// CheckpointWriter writes a checkpoint folder. Everything is built in a temporary sibling
// folder; Commit moves it into place only when every shard, the index and the extra files are
// complete and synced, so the destination is never seen half-written. An existing destination
// is replaced by an atomic exchange of the two folders (renameat2 RENAME_EXCHANGE), so at every
// instant, a kill or a power loss included, the destination is the old folder or the new one.
// Where the file system cannot exchange (NFS, some FUSE file systems), the old folder is
// renamed aside first; if the process dies before the new one is in place, the next
// LockFolder of the destination (every later write of it) puts the old one back.
type CheckpointWriter struct {
	dir, tmp  string
	opt       CheckpointOptions
	lock      *FolderLock // the lock CreateCheckpoint took itself, released at Commit/Abort
	shards    []*Writer
	shardOf   map[string]*Writer
	shardName []string
	specs     []Spec
	done      bool
}

// CreateCheckpoint starts writing a checkpoint folder at dir with the given tensors.
func CreateCheckpoint(dir string, specs []Spec, opt CheckpointOptions) (*CheckpointWriter, error) {
	dir = filepath.Clean(dir)
	var own *FolderLock
	if opt.Lock == nil {
		l, err := LockFolder(dir) // also puts back a folder an interrupted replacement set aside
		if err != nil {
			return nil, err
		}
		own = l
	} else if !opt.Lock.held(dir) {
		return nil, fmt.Errorf("%s: the lock given (CheckpointOptions.Lock) is not a held lock of this folder", dir)
	}
	fail := func(err error) (*CheckpointWriter, error) {
		own.Unlock()
		return nil, err
	}
	if _, err := os.Stat(dir); err == nil && !opt.Overwrite {
		return fail(fmt.Errorf("%s already exists (choose another output or allow overwriting)", dir))
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), tempPattern(dir, tmpKind))
	if err != nil {
		return fail(fmt.Errorf("creating %s: %w", dir, err))
	}
	// MkdirTemp makes the folder private (0700); the checkpoint it becomes should be readable
	// like any other folder (its files are 0644).
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return fail(fmt.Errorf("creating %s: %w", dir, err))
	}
	faultPoint("checkpoint:created")
	meta := opt.Metadata
	if meta == nil {
		meta = map[string]string{"format": "pt"}
	}
	w := &CheckpointWriter{dir: dir, tmp: tmp, opt: opt, lock: own, shardOf: map[string]*Writer{}, specs: specs}
	groups, err := planShards(specs, opt.MaxShardSize)
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	for i, g := range groups {
		name := SingleFile
		if len(groups) > 1 {
			name = fmt.Sprintf(shardNameFormat, i+1, len(groups))
		}
		sw, err := Create(filepath.Join(tmp, name), g, meta)
		if err != nil {
			w.Abort()
			return nil, err
		}
		w.shards = append(w.shards, sw)
		w.shardName = append(w.shardName, name)
		for _, s := range g {
			w.shardOf[s.Name] = sw
		}
	}
	return w, nil
}

// planShards groups specs, in order, into shards of at most max data bytes (max 0: one group).
func planShards(specs []Spec, max int64) ([][]Spec, error) {
	var groups [][]Spec
	var cur []Spec
	var curSize int64
	for _, s := range specs {
		size, err := ByteSize(s.DType, s.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", s.Name, err)
		}
		if max > 0 && len(cur) > 0 && curSize+size > max {
			groups = append(groups, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, s)
		curSize += size
	}
	if len(cur) > 0 || len(groups) == 0 {
		groups = append(groups, cur)
	}
	return groups, nil
}

// Dir is the final folder.
func (w *CheckpointWriter) Dir() string { return w.dir }

// TempDir is the folder being built; it becomes Dir at Commit.
func (w *CheckpointWriter) TempDir() string { return w.tmp }

// WriteTensor writes the whole data of the named tensor (any order, any goroutine).
func (w *CheckpointWriter) WriteTensor(name string, data []byte) error {
	sw, ok := w.shardOf[name]
	if !ok {
		return fmt.Errorf("%s: tensor %q was not declared", w.dir, name)
	}
	return sw.WriteTensor(name, data)
}

// WriteChunk writes part of the named tensor at byte offset off.
func (w *CheckpointWriter) WriteChunk(name string, off int64, p []byte) error {
	sw, ok := w.shardOf[name]
	if !ok {
		return fmt.Errorf("%s: tensor %q was not declared", w.dir, name)
	}
	return sw.WriteChunk(name, off, p)
}

// ChunkPhase is the named tensor's shard's ChunkPhase (0, 0 for a name not declared).
func (w *CheckpointWriter) ChunkPhase(name string, off int64) (phase, align int) {
	sw, ok := w.shardOf[name]
	if !ok {
		return 0, 0
	}
	return sw.ChunkPhase(name, off)
}

// AddFile writes an extra file (config.json, tokenizer.json, ...) into the checkpoint.
func (w *CheckpointWriter) AddFile(name string, data []byte) error {
	if err := checkFileName(name); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(w.tmp, name), data)
}

// CopyFile copies the file at src into the checkpoint as name.
func (w *CheckpointWriter) CopyFile(name, src string) error {
	if err := checkFileName(name); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := CreateAtomic(filepath.Join(w.tmp, name))
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Abort()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return out.Commit()
}

// AddConfig writes config.json.
func (w *CheckpointWriter) AddConfig(c *Config) error {
	b, err := c.Encode()
	if err != nil {
		return fmt.Errorf("%s: config: %w", w.dir, err)
	}
	return w.AddFile(ConfigFile, b)
}

func checkFileName(name string) error {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("checkpoint file name %q must be a plain file name", name)
	}
	return nil
}

// Commit finishes every shard, writes the index (when sharded), and moves the folder into
// place. With Overwrite, an existing folder is replaced only after the new one is complete, in
// one atomic exchange where the file system allows it (see CheckpointWriter).
func (w *CheckpointWriter) Commit() error {
	if w.done {
		return fmt.Errorf("%s: already committed or aborted", w.dir)
	}
	defer w.lock.Unlock()
	faultPoint("checkpoint:commit")
	for i, sw := range w.shards {
		if err := sw.Commit(); err != nil {
			for _, rest := range w.shards[i+1:] {
				rest.Abort()
			}
			w.removeTemp()
			return err
		}
	}
	faultPoint("checkpoint:shards")
	if len(w.shards) > 1 {
		if err := w.writeIndex(); err != nil {
			w.removeTemp()
			return err
		}
		faultPoint("checkpoint:index")
	}
	if err := syncDir(w.tmp); err != nil {
		w.removeTemp()
		return err
	}
	faultPoint("checkpoint:synced")
	w.done = true
	if err := w.place(); err != nil {
		return err
	}
	faultPoint("checkpoint:done")
	return nil
}

// place moves the complete, synced temporary folder to the destination.
func (w *CheckpointWriter) place() error {
	parent := filepath.Dir(w.dir)
	_, statErr := os.Lstat(w.dir)
	if errors.Is(statErr, fs.ErrNotExist) {
		err := renameNoReplace(w.tmp, w.dir)
		if unsupported(err) {
			// The lock keeps every writer of ours away; this only guards against others.
			if _, statErr = os.Lstat(w.dir); errors.Is(statErr, fs.ErrNotExist) {
				err = os.Rename(w.tmp, w.dir)
			} else {
				err = fs.ErrExist
			}
		}
		switch {
		case err == nil:
			faultPoint("checkpoint:renamed")
			return syncDir(parent)
		case !errors.Is(err, fs.ErrExist):
			os.RemoveAll(w.tmp)
			return fmt.Errorf("moving checkpoint into %s: %w", w.dir, err)
		}
		statErr = nil // it appeared meanwhile: handled as an existing folder below
	} else if statErr != nil {
		os.RemoveAll(w.tmp)
		return fmt.Errorf("replacing %s: %w", w.dir, statErr)
	}
	if !w.opt.Overwrite {
		os.RemoveAll(w.tmp)
		return fmt.Errorf("%s appeared while the checkpoint was being written; new one discarded", w.dir)
	}
	if !w.opt.noExchange && !exchangeDisabled() {
		err := exchange(w.tmp, w.dir)
		if err == nil {
			// The old folder now has the temporary name: garbage, wherever we stop from here on.
			faultPoint("checkpoint:exchanged")
			if err := syncDir(parent); err != nil {
				return err
			}
			return w.removeOld(w.tmp)
		}
		if !unsupported(err) {
			os.RemoveAll(w.tmp)
			return fmt.Errorf("replacing %s: %w", w.dir, err)
		}
	}
	// Fallback: the old folder goes aside under a name that says it is the previous version, so
	// that recoverFolder puts it back if we die before the new one is in place.
	aside, err := tempName(w.dir, oldKind)
	if err != nil {
		os.RemoveAll(w.tmp)
		return fmt.Errorf("replacing %s: %w", w.dir, err)
	}
	if err := os.Rename(w.dir, aside); err != nil {
		os.RemoveAll(w.tmp)
		return fmt.Errorf("replacing %s: %w", w.dir, err)
	}
	faultPoint("checkpoint:aside")
	if err := os.Rename(w.tmp, w.dir); err != nil {
		if rerr := os.Rename(aside, w.dir); rerr != nil {
			return fmt.Errorf("moving checkpoint into %s: %w (and putting the previous one back from %s failed: %v)", w.dir, err, aside, rerr)
		}
		os.RemoveAll(w.tmp)
		return fmt.Errorf("moving checkpoint into %s: %w", w.dir, err)
	}
	faultPoint("checkpoint:placed")
	if err := syncDir(parent); err != nil {
		return err
	}
	return w.removeOld(aside)
}

// removeOld deletes the replaced folder once the new one is durably in place.
func (w *CheckpointWriter) removeOld(old string) error {
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("%s is in place, but removing the previous version %s failed: %w", w.dir, old, err)
	}
	faultPoint("checkpoint:old-removed")
	return syncDir(filepath.Dir(w.dir))
}

func (w *CheckpointWriter) writeIndex() error {
	idx := Index{Metadata: map[string]any{}, WeightMap: map[string]string{}}
	var total int64
	for i, sw := range w.shards {
		for _, e := range sw.entries {
			idx.WeightMap[e.Name] = w.shardName[i]
			total += e.Size
		}
	}
	idx.Metadata["total_size"] = total
	b, err := marshalIndent(idx)
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(w.tmp, IndexFile), b)
}

func (w *CheckpointWriter) removeTemp() {
	w.done = true
	os.RemoveAll(w.tmp)
}

// Abort discards everything written. Safe after Commit (does nothing).
func (w *CheckpointWriter) Abort() {
	if w.done {
		return
	}
	for _, sw := range w.shards {
		sw.Abort()
	}
	w.removeTemp()
	w.lock.Unlock()
}

// SaveCheckpoint writes an in-memory model (tensors in the given order) and its config as a
// checkpoint folder at dir, atomically. cfg may be nil.
func SaveCheckpoint(dir string, cfg *Config, tensors []*Tensor, opt CheckpointOptions) error {
	specs := make([]Spec, len(tensors))
	for i, t := range tensors {
		specs[i] = SpecOf(t)
	}
	w, err := CreateCheckpoint(dir, specs, opt)
	if err != nil {
		return err
	}
	for _, t := range tensors {
		if err := w.WriteTensor(t.Name, t.Data); err != nil {
			w.Abort()
			return err
		}
	}
	if cfg != nil {
		if err := w.AddConfig(cfg); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Commit()
}
