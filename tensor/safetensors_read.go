package tensor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"unicode/utf8"
)

// MaxHeaderSize is the largest safetensors header accepted, the reference reader's cap.
const MaxHeaderSize = 100_000_000

// FormatError reports a file that is not a valid safetensors file, and why.
type FormatError struct {
	Path string // the file, as given to Open
	Msg  string
}

func (e *FormatError) Error() string { return e.Path + ": " + e.Msg }

// Entry describes one tensor of a safetensors file.
type Entry struct {
	Name  string
	DType DType
	Shape []int
	// Offset is the absolute position of the tensor's first byte in the file; Size its length.
	Offset, Size int64
}

// Reader reads tensors one at a time from a validated safetensors file. It is safe for
// concurrent use: reads are positioned (pread) and share no cursor.
type Reader struct {
	path     string
	r        io.ReaderAt
	closer   io.Closer
	file     *os.File // the file Open opened, for MappedData
	mapped   mapping
	size     int64
	entries  []Entry // in file (offset) order
	byName   map[string]int
	metadata map[string]string
}

// Open opens and validates the safetensors file at path. Only the header is read.
func Open(path string) (*Reader, error) {
	f, st, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, &FormatError{path, "is a directory, not a safetensors file"}
	}
	rd, err := NewReader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	rd.closer, rd.file = f, f
	return rd, nil
}

// NewReader validates a safetensors image of the given size read through r; path is used in
// error messages only.
func NewReader(r io.ReaderAt, size int64, path string) (*Reader, error) {
	bad := func(format string, args ...any) error {
		return &FormatError{path, fmt.Sprintf(format, args...)}
	}
	if size < 8 {
		return nil, bad("file is %d bytes, too short for the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("%s: reading header length: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, bad("header length %d exceeds the %d-byte limit (not a safetensors file?)", n, MaxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, bad("header length %d runs past the end of the %d-byte file", n, size)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil && n > 0 {
		return nil, fmt.Errorf("%s: reading header: %w", path, err)
	}
	entries, meta, err := parseHeader(hdr)
	if err != nil {
		return nil, bad("header: %v", err)
	}
	dataStart := 8 + int64(n)
	dataLen := size - dataStart
	// Tensors must tile the data section exactly: sorted by offset, contiguous from zero, no
	// gaps or overlaps, the last one ending at the end of the file.
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].Offset != entries[j].Offset {
			return entries[i].Offset < entries[j].Offset
		}
		return entries[i].Size < entries[j].Size
	})
	var pos int64
	for i := range entries {
		e := &entries[i]
		begin, end := e.Offset, e.Offset+e.Size
		if begin != pos {
			if begin > pos {
				return nil, bad("tensor %q starts at data offset %d, leaving a gap after offset %d", e.Name, begin, pos)
			}
			return nil, bad("tensor %q at data offsets [%d, %d) overlaps the tensor before it (which ends at %d)", e.Name, begin, end, pos)
		}
		pos = end
		e.Offset += dataStart
	}
	if pos != dataLen {
		if pos > dataLen {
			return nil, bad("tensors need %d data bytes but the file holds %d after the header (truncated?)", pos, dataLen)
		}
		return nil, bad("%d bytes after the last tensor (tensors end at data offset %d, file data is %d bytes)", dataLen-pos, pos, dataLen)
	}
	rd := &Reader{path: path, r: r, size: size, entries: entries, byName: make(map[string]int, len(entries)), metadata: meta}
	for i, e := range entries {
		rd.byName[e.Name] = i
	}
	return rd, nil
}

type rawEntry struct {
	DType       *string       `json:"dtype"`
	Shape       []json.Number `json:"shape"`
	DataOffsets []json.Number `json:"data_offsets"`
}

// parseHeader parses the JSON header, rejecting duplicate keys, wrong types, bad dtypes and
// sizes that do not match their offsets. Offsets are returned relative to the data section.
func parseHeader(hdr []byte) ([]Entry, map[string]string, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, errors.New("is not valid UTF-8")
	}
	trimmed := bytes.TrimRight(hdr, " ")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, errors.New("does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the opening brace
		return nil, nil, fmt.Errorf("invalid JSON: %v", err)
	}
	seen := make(map[string]bool)
	var entries []Entry
	var meta map[string]string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("invalid JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("invalid JSON: expected a key, got %v", tok)
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("invalid JSON in %q: %v", key, err)
		}
		if key == "__metadata__" {
			if err := json.Unmarshal(raw, &meta); err != nil {
				return nil, nil, fmt.Errorf("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		e, err := parseEntry(key, raw)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, nil, errors.New("trailing data after the JSON object")
	}
	if rest, _ := io.ReadAll(dec.Buffered()); len(bytes.TrimSpace(rest)) != 0 {
		return nil, nil, errors.New("trailing data after the JSON object")
	}
	if meta == nil {
		meta = map[string]string{}
	}
	return entries, meta, nil
}

func parseEntry(name string, raw json.RawMessage) (Entry, error) {
	var re rawEntry
	if err := json.Unmarshal(raw, &re); err != nil {
		return Entry{}, fmt.Errorf("tensor %q: entry must be {dtype, shape, data_offsets}: %v", name, err)
	}
	if re.DType == nil || re.Shape == nil || re.DataOffsets == nil {
		return Entry{}, fmt.Errorf("tensor %q: entry needs dtype, shape and data_offsets", name)
	}
	dt, err := ParseDType(*re.DType)
	if err != nil || dt.String() != *re.DType {
		return Entry{}, fmt.Errorf("tensor %q: unknown dtype %q", name, *re.DType)
	}
	shape := make([]int, len(re.Shape))
	for i, d := range re.Shape {
		v, err := strconv.ParseInt(string(d), 10, 64)
		if err != nil || v < 0 {
			return Entry{}, fmt.Errorf("tensor %q: shape dimension %s is not a non-negative integer", name, d)
		}
		shape[i] = int(v)
	}
	if len(re.DataOffsets) != 2 {
		return Entry{}, fmt.Errorf("tensor %q: data_offsets must be [begin, end]", name)
	}
	var off [2]int64
	for i, d := range re.DataOffsets {
		v, err := strconv.ParseInt(string(d), 10, 64)
		if err != nil || v < 0 {
			return Entry{}, fmt.Errorf("tensor %q: data offset %s is not a non-negative integer", name, d)
		}
		off[i] = v
	}
	if off[1] < off[0] {
		return Entry{}, fmt.Errorf("tensor %q: data_offsets [%d, %d) end before they begin", name, off[0], off[1])
	}
	want, err := ByteSize(dt, shape)
	if err != nil {
		return Entry{}, fmt.Errorf("tensor %q: %v", name, err)
	}
	if off[1]-off[0] != want {
		return Entry{}, fmt.Errorf("tensor %q: data_offsets [%d, %d) hold %d bytes but %s %s needs %d",
			name, off[0], off[1], off[1]-off[0], dt, FormatShape(shape), want)
	}
	return Entry{Name: name, DType: dt, Shape: shape, Offset: off[0], Size: want}, nil
}

// Path returns the path the reader was opened with.
func (r *Reader) Path() string { return r.path }

// Entries returns the tensors in file order. The slice must not be modified.
func (r *Reader) Entries() []Entry { return r.entries }

// Names returns the tensor names in file order.
func (r *Reader) Names() []string {
	names := make([]string, len(r.entries))
	for i, e := range r.entries {
		names[i] = e.Name
	}
	return names
}

// Entry returns the description of the named tensor.
func (r *Reader) Entry(name string) (Entry, bool) {
	i, ok := r.byName[name]
	if !ok {
		return Entry{}, false
	}
	return r.entries[i], true
}

// Metadata returns the header's __metadata__ map (empty if absent). It must not be modified.
func (r *Reader) Metadata() map[string]string { return r.metadata }

// ReadInto reads the raw bytes of the named tensor into dst, which must be exactly its size.
func (r *Reader) ReadInto(name string, dst []byte) error {
	e, ok := r.Entry(name)
	if !ok {
		return fmt.Errorf("%s: no tensor %q", r.path, name)
	}
	if int64(len(dst)) != e.Size {
		return fmt.Errorf("%s: tensor %q is %d bytes, buffer is %d", r.path, name, e.Size, len(dst))
	}
	if len(dst) == 0 {
		return nil // empty tensors may sit at the very end, where ReadAt reports EOF
	}
	if _, err := r.r.ReadAt(dst, e.Offset); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%s: reading tensor %q: %w", r.path, name, err)
	}
	return nil
}

// Section returns a reader over the named tensor's bytes, for processing it in chunks.
func (r *Reader) Section(name string) (*io.SectionReader, error) {
	e, ok := r.Entry(name)
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", r.path, name)
	}
	return io.NewSectionReader(r.r, e.Offset, e.Size), nil
}

// ReadTensor reads the named tensor into memory.
func (r *Reader) ReadTensor(name string) (*Tensor, error) {
	e, ok := r.Entry(name)
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", r.path, name)
	}
	t := &Tensor{Name: name, DType: e.DType, Shape: append([]int(nil), e.Shape...), Data: AlignedFor(nil, e.Offset, int(e.Size))}
	if err := r.ReadInto(name, t.Data); err != nil {
		return nil, err
	}
	return t, nil
}

// Close closes the underlying file, if Open opened it.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	uerr := r.unmap()
	if err := r.closer.Close(); err != nil {
		return err
	}
	return uerr
}
