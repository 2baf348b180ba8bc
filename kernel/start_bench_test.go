package kernel

import (
	"testing"

	"github.com/ordermerge/ordermerge/kernel/session"
)

// BenchmarkSessionStart measures what a kernel does before it can answer kernel_info: decode
// the doc index and build an interpreter with every preloaded table.
func BenchmarkSessionStart(b *testing.B) {
	for i := 0; i < b.N; i++ {
		opts, err := SessionOptions()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := session.New(opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDocIndex(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := SessionOptions(); err != nil {
			b.Fatal(err)
		}
	}
}
