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
}

// CheckpointWriter writes a checkpoint folder. Everything is built in a temporary sibling
// folder; Commit moves it into place only when every shard, the index and the extra files are
// complete and synced, so the destination is never seen half-written.
type CheckpointWriter struct {
	dir, tmp  string
	opt       CheckpointOptions
	shards    []*Writer
	shardOf   map[string]*Writer
	shardName []string
	specs     []Spec
	done      bool
}

// CreateCheckpoint starts writing a checkpoint folder at dir with the given tensors.
func CreateCheckpoint(dir string, specs []Spec, opt CheckpointOptions) (*CheckpointWriter, error) {
	dir = filepath.Clean(dir)
	if _, err := os.Stat(dir); err == nil && !opt.Overwrite {
		return nil, fmt.Errorf("%s already exists (choose another output or allow overwriting)", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	// MkdirTemp makes the folder private (0700); the checkpoint it becomes should be readable
	// like any other folder (its files are 0644).
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	meta := opt.Metadata
	if meta == nil {
		meta = map[string]string{"format": "pt"}
	}
	w := &CheckpointWriter{dir: dir, tmp: tmp, opt: opt, shardOf: map[string]*Writer{}, specs: specs}
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
// place. With Overwrite, an existing folder is replaced only after the new one is complete.
func (w *CheckpointWriter) Commit() error {
	if w.done {
		return fmt.Errorf("%s: already committed or aborted", w.dir)
	}
	for i, sw := range w.shards {
		if err := sw.Commit(); err != nil {
			for _, rest := range w.shards[i+1:] {
				rest.Abort()
			}
			w.removeTemp()
			return err
		}
	}
	if len(w.shards) > 1 {
		if err := w.writeIndex(); err != nil {
			w.removeTemp()
			return err
		}
	}
	if err := syncDir(w.tmp); err != nil {
		w.removeTemp()
		return err
	}
	w.done = true
	var old string
	if _, err := os.Stat(w.dir); err == nil {
		if !w.opt.Overwrite {
			os.RemoveAll(w.tmp)
			return fmt.Errorf("%s appeared while the checkpoint was being written; new one discarded", w.dir)
		}
		old = w.tmp + ".old"
		if err := os.Rename(w.dir, old); err != nil {
			os.RemoveAll(w.tmp)
			return fmt.Errorf("replacing %s: %w", w.dir, err)
		}
	}
	if err := os.Rename(w.tmp, w.dir); err != nil {
		if old != "" {
			os.Rename(old, w.dir) // put the previous checkpoint back
		}
		os.RemoveAll(w.tmp)
		return fmt.Errorf("moving checkpoint into %s: %w", w.dir, err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
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
