package tensor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// Spec names a tensor to be written: its name, dtype and shape, known before its data.
type Spec struct {
	Name  string
	DType DType
	Shape []int
}

// SpecOf returns the spec of an existing tensor.
func SpecOf(t *Tensor) Spec { return Spec{Name: t.Name, DType: t.DType, Shape: t.Shape} }

// Writer writes a safetensors file whose header was computed up front from the specs, so data
// can stream in tensor by tensor, in any order and from several goroutines, without memory
// growing with the file. Nothing is visible at the destination until Commit succeeds.
type Writer struct {
	f       *AtomicFile
	out     *blockWriter // f's data, written with direct I/O where possible
	entries []Entry      // offsets absolute in the file, in spec order
	byName  map[string]int
	mu      sync.Mutex
	written []int64 // bytes written per tensor
	size    int64
	err     error // first write error; poisons Commit
}

// EncodeHeader returns the safetensors header (8-byte length + JSON padded with spaces to a
// multiple of 8) for tensors laid out contiguously in the given order, and each tensor's
// offset relative to the start of the data section.
func EncodeHeader(specs []Spec, metadata map[string]string) (header []byte, offsets []int64, err error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(&buf, k)
			buf.WriteByte(':')
			writeJSONString(&buf, metadata[k])
		}
		buf.WriteByte('}')
		first = false
	}
	seen := make(map[string]bool, len(specs))
	offsets = make([]int64, len(specs))
	var pos int64
	for i, s := range specs {
		if s.Name == "__metadata__" {
			return nil, nil, fmt.Errorf("tensor name %q is reserved", s.Name)
		}
		if seen[s.Name] {
			return nil, nil, fmt.Errorf("tensor %q listed twice", s.Name)
		}
		seen[s.Name] = true
		if s.DType == Invalid || s.DType.Bits() == 0 {
			return nil, nil, fmt.Errorf("tensor %q: invalid dtype", s.Name)
		}
		size, err := ByteSize(s.DType, s.Shape)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", s.Name, err)
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		writeJSONString(&buf, s.Name)
		fmt.Fprintf(&buf, `:{"dtype":"%s","shape":[`, s.DType)
		for j, d := range s.Shape {
			if j > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprint(&buf, d)
		}
		fmt.Fprintf(&buf, `],"data_offsets":[%d,%d]}`, pos, pos+size)
		offsets[i] = pos
		pos += size
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	header = make([]byte, 8+buf.Len())
	binary.LittleEndian.PutUint64(header, uint64(buf.Len()))
	copy(header[8:], buf.Bytes())
	return header, offsets, nil
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // marshalling a string cannot fail
	buf.Write(b)
}

// Create starts writing a safetensors file at path holding the given tensors, laid out in the
// order of specs. Write every tensor's data, then Commit; Abort discards the file.
func Create(path string, specs []Spec, metadata map[string]string) (*Writer, error) {
	header, offsets, err := EncodeHeader(specs, metadata)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := CreateAtomic(path)
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, byName: make(map[string]int, len(specs)), written: make([]int64, len(specs))}
	base := int64(len(header))
	w.size = base
	for i, s := range specs {
		size, _ := ByteSize(s.DType, s.Shape) // validated by EncodeHeader
		w.entries = append(w.entries, Entry{Name: s.Name, DType: s.DType, Shape: append([]int(nil), s.Shape...), Offset: base + offsets[i], Size: size})
		w.byName[s.Name] = i
		w.size += size
	}
	w.out = newBlockWriter(f.File, w.size)
	if err := w.out.WriteAt(header, 0); err != nil {
		w.Abort()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return w, nil
}

// ChunkPhase says where in memory the bytes of a chunk at offset off of the named tensor are
// best placed: at an address whose remainder modulo align is phase, WriteChunk hands them to the
// disk without copying them. align is 0 when placement does not matter.
func (w *Writer) ChunkPhase(name string, off int64) (phase, align int) {
	i, ok := w.byName[name]
	if !ok {
		return 0, 0
	}
	return w.out.Phase(w.entries[i].Offset + off)
}

// Path is the final path of the file being written.
func (w *Writer) Path() string { return w.f.Path() }

// WriteTensor writes the whole data of the named tensor. It may be called from several
// goroutines for different tensors.
func (w *Writer) WriteTensor(name string, data []byte) error {
	i, ok := w.byName[name]
	if !ok {
		return fmt.Errorf("%s: tensor %q is not in the header", w.Path(), name)
	}
	if int64(len(data)) != w.entries[i].Size {
		return fmt.Errorf("%s: tensor %q is %d bytes, got %d", w.Path(), name, w.entries[i].Size, len(data))
	}
	return w.WriteChunk(name, 0, data)
}

// WriteChunk writes p at byte offset off within the named tensor, so a large tensor can be
// produced piece by piece. Chunks of one tensor must not overlap.
func (w *Writer) WriteChunk(name string, off int64, p []byte) error {
	i, ok := w.byName[name]
	if !ok {
		return fmt.Errorf("%s: tensor %q is not in the header", w.Path(), name)
	}
	e := w.entries[i]
	if off < 0 || off+int64(len(p)) > e.Size {
		return fmt.Errorf("%s: chunk [%d, %d) lies outside tensor %q (%d bytes)", w.Path(), off, off+int64(len(p)), name, e.Size)
	}
	err := w.out.WriteAt(p, e.Offset+off)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("writing tensor %q to %s: %w", name, w.Path(), err)
		if w.err == nil {
			w.err = err
		}
		return err
	}
	w.written[i] += int64(len(p))
	return nil
}

// Commit checks that every tensor was written in full, then makes the file appear at its path
// (fsync + rename). On error, nothing appears and any existing file there is untouched.
func (w *Writer) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		w.f.Abort()
		return w.err
	}
	for i, e := range w.entries {
		if w.written[i] != e.Size {
			w.f.Abort()
			return fmt.Errorf("%s: tensor %q: %d of %d bytes written", w.Path(), e.Name, w.written[i], e.Size)
		}
	}
	// Close cuts the file to its size: direct writes wrote its last block whole.
	if err := w.out.Close(); err != nil {
		w.f.Abort()
		return fmt.Errorf("writing %s: %w", w.Path(), err)
	}
	return w.f.Commit()
}

// Abort discards the file being written.
func (w *Writer) Abort() {
	w.out.Abort()
	w.f.Abort()
}

// WriteFile writes tensors to a safetensors file at path atomically, in the order given.
func WriteFile(path string, tensors []*Tensor, metadata map[string]string) error {
	specs := make([]Spec, len(tensors))
	for i, t := range tensors {
		specs[i] = SpecOf(t)
	}
	w, err := Create(path, specs, metadata)
	if err != nil {
		return err
	}
	for _, t := range tensors {
		if err := w.WriteTensor(t.Name, t.Data); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Commit()
}

// ReadFile reads every tensor of a safetensors file into memory, in file order.
func ReadFile(path string) ([]*Tensor, map[string]string, error) {
	r, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	out := make([]*Tensor, 0, len(r.entries))
	for _, e := range r.entries {
		t, err := r.ReadTensor(e.Name)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, t)
	}
	return out, r.Metadata(), nil
}
