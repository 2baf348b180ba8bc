package merge

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

// TestPermutedRowsAnyRead reads a remapped embedding in pieces of every size at every offset
// and checks each byte against the rows it should hold: the input's rows in the new order
// (consecutive runs read at once), a filled row, and a zero row.
func TestPermutedRowsAnyRead(t *testing.T) {
	const rows, dim = 4, 3
	vals := make([]float32, rows*dim)
	for i := range vals {
		vals[i] = float32(i + 1)
	}
	x, err := tensor.NewF32("model.embed_tokens.weight", []int{rows, dim}, vals)
	if err != nil {
		t.Fatal(err)
	}
	src, err := newMemorySource("m", Model{x.Name: x})
	if err != nil {
		t.Fatal(err)
	}
	perm := []int{2, 3, -1, 0, 1, -1} // row 2 filled, row 5 zeros
	fill := make([]byte, dim*4)
	for j := range dim {
		binary.LittleEndian.PutUint32(fill[4*j:], math.Float32bits(-7))
	}
	e, _ := src.entry(x.Name)
	e.Shape, e.Size = []int{len(perm), dim}, int64(len(perm)*dim*4)
	v := &permutedSource{src: src, tables: map[string]*rowTable{x.Name: {entry: e, rows: perm, fill: map[int][]byte{2: fill}, rowBytes: dim * 4}}}
	want := make([]float32, 0, len(perm)*dim)
	for _, r := range perm {
		for j := range dim {
			switch {
			case r >= 0:
				want = append(want, vals[r*dim+j])
			case len(want)/dim == 2:
				want = append(want, -7)
			default:
				want = append(want, 0)
			}
		}
	}
	total := len(want) * 4
	for off := 0; off < total; off += 4 {
		for n := 4; off+n <= total; n += 4 {
			buf := make([]byte, n)
			for i := range buf {
				buf[i] = 0xee // a zero row must be written, not left
			}
			if err := v.readAt(x.Name, buf, int64(off)); err != nil {
				t.Fatal(err)
			}
			for k := 0; k < n; k += 4 {
				got := math.Float32frombits(binary.LittleEndian.Uint32(buf[k:]))
				if w := want[(off+k)/4]; got != w {
					t.Fatalf("read %d bytes at %d: element %d is %v, want %v", n, off, (off+k)/4, got, w)
				}
			}
		}
	}
}
