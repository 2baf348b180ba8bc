package compute

import "fmt"

// Storage is one allocation in a device's memory. Devices implement it; everything else
// handles device memory through Buf.
type Storage interface {
	// Device is the device the memory belongs to.
	Device() Device
	// Len is the allocation's size in elements.
	Len() int
	// DType is the element type of the allocation.
	DType() DType
}

// Buf is a contiguous span of elements of one Storage: the handle every device operation
// takes. It is a small value (copy it freely); slicing never copies data. The zero Buf is
// empty and stands for "no buffer" where an operation makes one optional.
type Buf struct {
	st     Storage
	off, n int
}

// Whole returns a Buf over all of st.
func Whole(st Storage) Buf { return Buf{st: st, n: st.Len()} }

// Storage is the allocation b is a span of (nil for the zero Buf).
func (b Buf) Storage() Storage { return b.st }

// Offset is the index of b's first element in its Storage.
func (b Buf) Offset() int { return b.off }

// Len is the number of elements of b.
func (b Buf) Len() int { return b.n }

// DType is the element type of b (0 for the zero Buf).
func (b Buf) DType() DType {
	if b.st == nil {
		return 0
	}
	return b.st.DType()
}

// Device is the device b lives on (nil for the zero Buf).
func (b Buf) Device() Device {
	if b.st == nil {
		return nil
	}
	return b.st.Device()
}

// IsZero reports whether b is the zero Buf.
func (b Buf) IsZero() bool { return b.st == nil }

// Slice returns elements [lo, hi) of b. It panics when the bounds are outside b, like
// slicing a Go slice does.
func (b Buf) Slice(lo, hi int) Buf {
	if lo < 0 || hi < lo || hi > b.n {
		panic(fmt.Sprintf("compute: slice [%d:%d] of a buffer of %d elements", lo, hi, b.n))
	}
	return Buf{st: b.st, off: b.off + lo, n: hi - lo}
}

// From returns b from element lo to its end.
func (b Buf) From(lo int) Buf { return b.Slice(lo, b.n) }

// String describes b for error messages.
func (b Buf) String() string {
	if b.st == nil {
		return "<no buffer>"
	}
	return fmt.Sprintf("%s[%d:%d] on %s", b.DType(), b.off, b.off+b.n, b.st.Device().Name())
}

// Read copies b's values to a new host slice (BF16 widened to float32).
func Read(b Buf) ([]float32, error) {
	if b.st == nil {
		return nil, nil
	}
	out := make([]float32, b.n)
	if err := b.Device().ReadF32(out, b); err != nil {
		return nil, err
	}
	return out, nil
}

// Write copies host values into b (len(v) == b.Len(); rounded to bfloat16 for a BF16 b).
func Write(b Buf, v []float32) error {
	if b.st == nil {
		return fmt.Errorf("compute: write to no buffer")
	}
	return b.Device().WriteF32(b, v)
}
