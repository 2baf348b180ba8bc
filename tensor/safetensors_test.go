package tensor

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// Files under testdata were written by make_testdata.py, an independent stdlib-only writer that
// follows Hugging Face's layout rules.
func TestReadPythonWrittenFiles(t *testing.T) {
	r, err := Open("testdata/mixed_dtypes.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Metadata(); got["format"] != "pt" || got["note"] != "edge values" {
		t.Fatalf("metadata %v", got)
	}
	want := map[string]struct {
		dt    DType
		shape string
	}{
		"f32": {F32, "[3 4]"}, "f16": {F16, "[2 3]"}, "bf16": {BF16, "[12]"}, "f64": {F64, "[2]"},
		"i64": {I64, "[3]"}, "i32": {I32, "[2 2]"}, "u8": {U8, "[4]"}, "mask": {BOOL, "[3]"},
		"scalar": {F32, "[]"}, "empty": {F32, "[0 4]"},
	}
	if len(r.Names()) != len(want) {
		t.Fatalf("names %v", r.Names())
	}
	for name, w := range want {
		e, ok := r.Entry(name)
		if !ok || e.DType != w.dt || FormatShape(e.Shape) != w.shape {
			t.Errorf("%s: %+v, want %v %s", name, e, w.dt, w.shape)
		}
	}
	values := func(name string) []float64 {
		tt, err := r.ReadTensor(name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := tt.Float64()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	inf := math.Inf(1)
	edge := []float64{0, 0, 1, -2.5, 65504, 1e-7, 6.1e-05, inf, -inf, 1.00048828125, 1.01171875, 3.0e38}
	for i, v := range values("f32") {
		if v != float64(float32(edge[i])) {
			t.Errorf("f32[%d] = %g, want %g", i, v, edge[i])
		}
	}
	// bf16: Python rounded to nearest even; check exact known results and closeness elsewhere.
	bf := values("bf16")
	exact := map[int]float64{2: 1, 3: -2.5, 4: 65536, 7: inf, 8: -inf, 9: 1, 10: 1.015625}
	for i, v := range bf {
		if w, ok := exact[i]; ok {
			if v != w {
				t.Errorf("bf16[%d] = %g, want %g", i, v, w)
			}
		} else if math.Abs(v-edge[i]) > math.Abs(edge[i])/256 {
			t.Errorf("bf16[%d] = %g, far from %g", i, v, edge[i])
		}
	}
	if !math.Signbit(bf[1]) || bf[1] != 0 {
		t.Errorf("bf16 -0 read as %g", bf[1])
	}
	for i, w := range []float64{0, 1, -2.5, 65504, 5.960464477539063e-08, -inf} {
		if v := values("f16")[i]; v != w {
			t.Errorf("f16[%d] = %g, want %g", i, v, w)
		}
	}
	checkValues(t, "f64", values("f64"), []float64{math.Pi, -1e300})
	checkValues(t, "i64", values("i64"), []float64{-(1 << 62), 0, 7})
	checkValues(t, "i32", values("i32"), []float64{1, -2, 3, -4})
	checkValues(t, "u8", values("u8"), []float64{0, 1, 128, 255})
	checkValues(t, "mask", values("mask"), []float64{1, 0, 1})
	checkValues(t, "scalar", values("scalar"), []float64{42})
	checkValues(t, "empty", values("empty"), nil)
}

func checkValues(t *testing.T, name string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s[%d] = %g, want %g", name, i, got[i], want[i])
		}
	}
}

// Rewriting a file the reference way produces identical bytes: same header text, same data.
func TestRewriteIsByteIdentical(t *testing.T) {
	for _, name := range []string{"mixed_dtypes.safetensors", "hf_llama_bf16.safetensors", "no_metadata.safetensors"} {
		src := filepath.Join("testdata", name)
		ts, meta, err := ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if len(meta) == 0 {
			meta = nil
		}
		out := filepath.Join(t.TempDir(), name)
		if err := WriteFile(out, ts, meta); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(src)
		b, _ := os.ReadFile(out)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: rewrite differs (%d vs %d bytes)\n%q\n%q", name, len(a), len(b), a[:min(len(a), 200)], b[:min(len(b), 200)])
		}
	}
}

// Files we write read back in an independent stdlib-only Python reader.
func TestPythonReadsOurFiles(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	dir := t.TempDir()
	var ts []*Tensor
	for i, dt := range []DType{BF16, F32, F16} {
		vals := make([]float32, 37*(i+1))
		for j := range vals {
			vals[j] = float32(math.Sin(float64(j))) * 3
		}
		tt, err := FromFloat32("layer."+dt.String()+".weight", []int{37, i + 1}, vals, dt)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tt)
	}
	path := filepath.Join(dir, "ours.safetensors")
	if err := WriteFile(path, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "testdata/read_safetensors.py", path).Output()
	if err != nil {
		t.Fatalf("python reader: %v", err)
	}
	var got map[string]struct {
		Metadata  map[string]string `json:"metadata"`
		HeaderLen int               `json:"header_len"`
		Tensors   map[string]struct {
			DType  string `json:"dtype"`
			Shape  []int  `json:"shape"`
			SHA256 string `json:"sha256"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	f := got[path]
	if f.Metadata["format"] != "pt" || f.HeaderLen%8 != 0 {
		t.Fatalf("metadata %v, header length %d", f.Metadata, f.HeaderLen)
	}
	for _, tt := range ts {
		sum := sha256.Sum256(tt.Data)
		p := f.Tensors[tt.Name]
		if p.DType != tt.DType.String() || FormatShape(p.Shape) != FormatShape(tt.Shape) || p.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: python saw %+v", tt.Name, p)
		}
	}
}

// header builds a file image from a raw JSON header and data.
func header(js string, data []byte) []byte {
	b := make([]byte, 8, 8+len(js)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(js)))
	b = append(b, js...)
	return append(b, data...)
}

func TestReaderRejects(t *testing.T) {
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, MaxHeaderSize+1)
	cases := []struct {
		name, want string
		file       []byte
	}{
		{"short", "too short", []byte{1, 2, 3}},
		{"header cap", "exceeds", append(huge, '{', '}')},
		{"header past end", "past the end", header(`{}`, nil)[:9]},
		{"not object", "does not start with '{'", header(`[1]     `, nil)},
		{"bad json", "invalid JSON", header(`{"a":`, nil)},
		{"duplicate", "duplicate key \"a\"", header(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, []byte{1, 2})},
		{"metadata type", "__metadata__ must map strings to strings", header(`{"__metadata__":{"a":1}}`, nil)},
		{"unknown dtype", "unknown dtype \"F33\"", header(`{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4))},
		{"size mismatch", "hold 3 bytes but F32 [1] needs 4", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,3]}}`, make([]byte, 3))},
		{"gap", "leaving a gap", header(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2))},
		{"overlap", "overlaps", header(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2))},
		{"trailing data", "after the last tensor", header(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 3))},
		{"truncated", "truncated", header(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 10))},
		{"negative dim", "not a non-negative integer", header(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}`, nil)},
		{"overflow", "too many elements", header(`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil)},
		{"reversed offsets", "end before they begin", header(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}}`, nil)},
		{"missing field", "needs dtype, shape and data_offsets", header(`{"a":{"dtype":"U8","shape":[1]}}`, nil)},
		{"trailing json", "trailing data", header(`{} {}`, nil)},
		{"invalid utf8", "UTF-8", header("{\"\xff\":1}", nil)},
		{"float offset", "not a non-negative integer", header(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1.5]}}`, nil)},
	}
	for _, c := range cases {
		_, err := NewReader(bytes.NewReader(c.file), int64(len(c.file)), "bad.safetensors")
		var fe *FormatError
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "bad.safetensors: ") {
			t.Errorf("%s: got %v, want a FormatError containing %q", c.name, err, c.want)
		}
	}
}

func TestReaderAcceptsUnpaddedHeader(t *testing.T) {
	file := header(`{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}`, []byte{7, 8, 9})
	r, err := NewReader(bytes.NewReader(file), int64(len(file)), "x")
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadTensor("a")
	if err != nil || !bytes.Equal(got.Data, []byte{7, 8, 9}) {
		t.Fatalf("%v %v", got, err)
	}
}

func TestWriterConcurrentChunksAndErrors(t *testing.T) {
	specs := []Spec{{"a", F32, []int{1000}}, {"b", BF16, []int{10, 10}}, {"c", F16, []int{0}}}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	w, err := Create(path, specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string][]byte{"a": make([]byte, 4000), "b": make([]byte, 200)}
	for k, v := range data {
		for i := range v {
			v[i] = byte(i*7 + len(k))
		}
	}
	var wg sync.WaitGroup
	for off := 0; off < 4000; off += 500 {
		wg.Add(1)
		go func(off int) {
			defer wg.Done()
			if err := w.WriteChunk("a", int64(off), data["a"][off:off+500]); err != nil {
				t.Error(err)
			}
		}(off)
	}
	wg.Wait()
	if err := w.WriteTensor("b", data["b"][:10]); err == nil {
		t.Error("short tensor accepted")
	}
	if err := w.WriteTensor("nope", nil); err == nil {
		t.Error("unknown tensor accepted")
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("file visible before commit")
	}
	if err := w.WriteTensor("b", data["b"]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for k, v := range data {
		got, err := r.ReadTensor(k)
		if err != nil || !bytes.Equal(got.Data, v) {
			t.Errorf("%s differs: %v", k, err)
		}
	}
	hdrLen := binary.LittleEndian.Uint64(mustRead(t, path)[:8])
	if hdrLen%8 != 0 {
		t.Errorf("header length %d not padded to 8", hdrLen)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestWriterRejectsBadSpecs(t *testing.T) {
	dir := t.TempDir()
	for _, specs := range [][]Spec{
		{{"a", F32, []int{1}}, {"a", F32, []int{1}}},
		{{"__metadata__", F32, []int{1}}},
		{{"a", F32, []int{-1}}},
		{{"a", Invalid, []int{1}}},
	} {
		if _, err := Create(filepath.Join(dir, "x.safetensors"), specs, nil); err == nil {
			t.Errorf("accepted %+v", specs)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left files: %v", entries)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAlignedFor(t *testing.T) {
	for _, off := range []int64{0, 8, 13, 64, 4104} {
		for _, n := range []int{0, 1, 100} {
			b := AlignedFor(nil, off, n)
			if len(b) != n {
				t.Fatalf("len %d, want %d", len(b), n)
			}
			if n > 0 && int64(uintptr(unsafe.Pointer(&b[0]))%64) != off%64 {
				t.Errorf("offset %d: address %% 64 = %d", off, uintptr(unsafe.Pointer(&b[0]))%64)
			}
		}
	}
	backing := make([]byte, 200)
	if b := AlignedFor(backing, 8, 100); &b[:cap(b)][cap(b)-1] != &backing[:cap(backing)][cap(backing)-1] {
		t.Error("a large enough backing was not reused")
	}
}
