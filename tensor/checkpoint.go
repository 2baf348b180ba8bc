package tensor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// File names of the Hugging Face checkpoint layout.
const (
	ConfigFile      = "config.json"
	SingleFile      = "model.safetensors"
	IndexFile       = "model.safetensors.index.json"
	shardNameFormat = "model-%05d-of-%05d.safetensors"
)

// Index is the model.safetensors.index.json of a sharded checkpoint.
type Index struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// Checkpoint is an open Hugging Face-layout checkpoint: a folder with config.json (optional)
// and either model.safetensors or shards listed by model.safetensors.index.json. A single
// .safetensors file can be opened as a checkpoint too. Tensors are read one at a time.
type Checkpoint struct {
	// Dir is the checkpoint folder (the file's folder when a single file was opened).
	Dir string
	// Config is the parsed config.json, or nil when the folder has none.
	Config *Config

	shards []*Reader
	where  map[string]*Reader
	names  []string // shard order, then file order within a shard
}

// OpenCheckpoint opens a checkpoint folder or a single safetensors file, validating every
// shard header and the index. It returns an error naming the file at fault.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if hint := asideHint(path); hint != "" {
			return nil, fmt.Errorf("%w%s", err, hint)
		}
	}
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		r, err := Open(path)
		if err != nil {
			return nil, err
		}
		c := &Checkpoint{Dir: filepath.Dir(path)}
		if err := c.addShard(r); err != nil {
			r.Close()
			return nil, err
		}
		return c, nil
	}
	c := &Checkpoint{Dir: path, where: map[string]*Reader{}}
	if cfg, err := ReadConfig(filepath.Join(path, ConfigFile)); err == nil {
		c.Config = cfg
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	single := filepath.Join(path, SingleFile)
	if _, err := os.Stat(single); err == nil {
		r, err := Open(single)
		if err != nil {
			return nil, err
		}
		if err := c.addShard(r); err != nil {
			c.Close()
			r.Close()
			return nil, err
		}
		return c, nil
	}
	indexPath := filepath.Join(path, IndexFile)
	idx, err := ReadIndex(indexPath)
	if errors.Is(err, fs.ErrNotExist) {
		if _, binErr := os.Stat(filepath.Join(path, "pytorch_model.bin")); binErr == nil {
			return nil, fmt.Errorf("%s: only PyTorch .bin weights found; convert them to safetensors first", path)
		}
		return nil, fmt.Errorf("%s: no %s or %s", path, SingleFile, IndexFile)
	}
	if err != nil {
		return nil, err
	}
	if err := c.openShards(indexPath, idx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Checkpoint) openShards(indexPath string, idx *Index) error {
	// Shards in name order, so tensor order is the same on every machine.
	files := map[string]bool{}
	for _, f := range idx.WeightMap {
		files[f] = true
	}
	order := make([]string, 0, len(files))
	for f := range files {
		if f != filepath.Base(f) || f == "." || f == ".." {
			return fmt.Errorf("%s: weight_map names %q, which is not a file in the checkpoint folder", indexPath, f)
		}
		order = append(order, f)
	}
	sort.Strings(order)
	for _, f := range order {
		p := filepath.Join(c.Dir, f)
		r, err := Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: shard %s listed in the index is missing", indexPath, f)
		}
		if err != nil {
			return err
		}
		for _, name := range r.Names() {
			want, listed := idx.WeightMap[name]
			if !listed {
				r.Close()
				return fmt.Errorf("%s: tensor %q is not listed in %s", p, name, IndexFile)
			}
			if want != f {
				r.Close()
				return fmt.Errorf("%s: tensor %q is also in %s, but the index says %s", p, name, f, want)
			}
		}
		if err := c.addShard(r); err != nil {
			r.Close()
			return err
		}
	}
	for name, f := range idx.WeightMap {
		if _, ok := c.where[name]; !ok {
			return fmt.Errorf("%s: index lists tensor %q in %s, but that shard does not hold it", indexPath, name, f)
		}
	}
	return nil
}

func (c *Checkpoint) addShard(r *Reader) error {
	if c.where == nil {
		c.where = map[string]*Reader{}
	}
	for _, name := range r.Names() {
		if prev, dup := c.where[name]; dup {
			return fmt.Errorf("%s: tensor %q is also in %s", r.Path(), name, prev.Path())
		}
		c.where[name] = r
		c.names = append(c.names, name)
	}
	c.shards = append(c.shards, r)
	return nil
}

// ReadIndex reads and checks a model.safetensors.index.json.
func ReadIndex(path string) (*Index, error) {
	b, err := readSmallFile(path, MaxHeaderSize)
	if err != nil {
		return nil, err
	}
	var idx Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: weight_map is missing or empty", path)
	}
	return &idx, nil
}

// Names returns every tensor name: shards in name order, tensors in file order within each.
func (c *Checkpoint) Names() []string { return append([]string(nil), c.names...) }

// Entry describes the named tensor.
func (c *Checkpoint) Entry(name string) (Entry, bool) {
	r, ok := c.where[name]
	if !ok {
		return Entry{}, false
	}
	return r.Entry(name)
}

// Specs returns the name, dtype and shape of every tensor, in Names order.
func (c *Checkpoint) Specs() []Spec {
	out := make([]Spec, len(c.names))
	for i, n := range c.names {
		e, _ := c.Entry(n)
		out[i] = Spec{Name: n, DType: e.DType, Shape: e.Shape}
	}
	return out
}

// TotalSize is the number of tensor data bytes.
func (c *Checkpoint) TotalSize() int64 {
	var n int64
	for _, name := range c.names {
		e, _ := c.Entry(name)
		n += e.Size
	}
	return n
}

// Files returns the safetensors files that hold the tensors.
func (c *Checkpoint) Files() []string {
	out := make([]string, len(c.shards))
	for i, r := range c.shards {
		out[i] = r.Path()
	}
	return out
}

// Reader returns the shard reader that holds the named tensor.
func (c *Checkpoint) Reader(name string) (*Reader, bool) {
	r, ok := c.where[name]
	return r, ok
}

// ReadInto reads the raw bytes of the named tensor into dst (exactly its size).
func (c *Checkpoint) ReadInto(name string, dst []byte) error {
	r, ok := c.where[name]
	if !ok {
		return fmt.Errorf("%s: no tensor %q", c.Dir, name)
	}
	return r.ReadInto(name, dst)
}

// ReadTensor reads the named tensor into memory.
func (c *Checkpoint) ReadTensor(name string) (*Tensor, error) {
	r, ok := c.where[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", c.Dir, name)
	}
	return r.ReadTensor(name)
}

// ReadFloat32 reads the named tensor (F32, F16 or BF16) as float32 values.
func (c *Checkpoint) ReadFloat32(name string) ([]float32, []int, error) {
	t, err := c.ReadTensor(name)
	if err != nil {
		return nil, nil, err
	}
	v, err := t.Float32()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", c.Dir, err)
	}
	return v, t.Shape, nil
}

// ReadAll reads every tensor into memory, in Names order. Meant for small models.
func (c *Checkpoint) ReadAll() ([]*Tensor, error) {
	out := make([]*Tensor, 0, len(c.names))
	for _, n := range c.names {
		t, err := c.ReadTensor(n)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Close closes every shard.
func (c *Checkpoint) Close() error {
	var first error
	for _, r := range c.shards {
		if err := r.Close(); err != nil && first == nil {
			first = err
		}
	}
	c.shards = nil
	return first
}
