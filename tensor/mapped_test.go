package tensor

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// MappedData views the same bytes ReadInto reads; releasing pages changes nothing a later read
// sees; a Reader not made by Open (no file of its own) maps nothing.
func TestMappedData(t *testing.T) {
	src := filepath.Join("testdata", "mixed_dtypes.safetensors")
	r, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, e := range r.Entries() {
		want := make([]byte, e.Size)
		if err := r.ReadInto(e.Name, want); err != nil {
			t.Fatal(err)
		}
		got, ok := r.MappedData(e.Name)
		if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
			if ok {
				t.Fatalf("%s: mapped on %s", e.Name, runtime.GOOS)
			}
			return
		}
		if !ok {
			t.Fatalf("%s: not mapped", e.Name)
		}
		if !bytes.Equal(got, want) || cap(got) != len(got) {
			t.Fatalf("%s: mapped bytes differ from the read ones (len %d cap %d)", e.Name, len(got), cap(got))
		}
		r.ReleaseMapped(got)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: bytes changed after ReleaseMapped", e.Name)
		}
	}
	if _, ok := r.MappedData("no such tensor"); ok {
		t.Error("a missing tensor was mapped")
	}
	r.ReleaseMapped(make([]byte, 10)) // not from the map: ignored

	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := NewReader(bytes.NewReader(b), int64(len(b)), src)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mem.MappedData(mem.Entries()[0].Name); ok {
		t.Error("a Reader over memory reported a map")
	}
}
