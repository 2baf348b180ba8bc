package tensor

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the reader: it must never panic, every rejection must be
// a FormatError that says why, and every accepted file must read back tensor by tensor and
// survive a rewrite unchanged. Run: go test ./tensor -run '^$' -fuzz FuzzReader -fuzztime 5m
func FuzzReader(f *testing.F) {
	for _, name := range []string{"mixed_dtypes.safetensors", "hf_llama_bf16.safetensors", "no_metadata.safetensors"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(header(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"F4","shape":[2],"data_offsets":[2,3]}}`, []byte{1, 2, 3}))
	f.Add(header(`{"__metadata__":{"k":"v"},"e":{"dtype":"BF16","shape":[0],"data_offsets":[0,0]}}`, nil))
	f.Add(header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,3]}}`, make([]byte, 3)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), int64(len(data)), "fuzz")
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Msg == "" {
				t.Fatalf("rejection without a reason: %v", err)
			}
			return
		}
		var ts []*Tensor
		for _, name := range r.Names() {
			tt, err := r.ReadTensor(name)
			if err != nil {
				t.Fatalf("accepted file fails to read %q: %v", name, err)
			}
			ts = append(ts, tt)
		}
		// Rewrite in file order and read back: same names, dtypes, shapes and bytes.
		meta := r.Metadata()
		if len(meta) == 0 {
			meta = nil
		}
		out := filepath.Join(t.TempDir(), "re.safetensors")
		if err := WriteFile(out, ts, meta); err != nil {
			t.Fatalf("rewrite: %v", err)
		}
		back, _, err := ReadFile(out)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(back) != len(ts) {
			t.Fatalf("rewrite has %d tensors, want %d", len(back), len(ts))
		}
		for i := range ts {
			if back[i].Name != ts[i].Name || back[i].DType != ts[i].DType ||
				FormatShape(back[i].Shape) != FormatShape(ts[i].Shape) || !bytes.Equal(back[i].Data, ts[i].Data) {
				t.Fatalf("tensor %q changed in rewrite", ts[i].Name)
			}
		}
	})
}
