package kernel

import (
	"testing"

	"github.com/ordermerge/ordermerge/kernel/session"
)

// BenchmarkSessionStart measures what a kernel does before it can answer kernel_info: build
// an interpreter with the kernel's hook and display packages. The symbol tables and the doc
// index load later (BenchmarkSessionLoad, BenchmarkDocIndex).
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

// BenchmarkSessionLoad measures what the first request after start-up adds: loading the
// standard library and every preloaded table into the interpreter.
func BenchmarkSessionLoad(b *testing.B) {
	opts, err := SessionOptions()
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		s, err := session.New(opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Load(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDocIndex measures decoding the doc index, done at the first inspect or completion.
func BenchmarkDocIndex(b *testing.B) {
	opts, err := SessionOptions()
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		o := opts
		if i > 0 {
			o, _ = SessionOptions() // a fresh, undecoded index each time
		}
		o.Docs("fmt.Println")
	}
}
