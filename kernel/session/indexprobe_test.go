package session

import (
	"context"
	"testing"
)

// BenchmarkIndexProbe is an interpreted loop of calls to a small cell function that indexes a
// slice: the probe's cost is one deferred call per interpreted call (see indexprobe.go).
func BenchmarkIndexProbe(b *testing.B) {
	s, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	h := &memHost{}
	if r := s.Execute(context.Background(), "xs := []int{1, 2, 3}\nfunc at(i int) int { return xs[i%3] }", h); r.Err != nil {
		b.Fatal(r.Err)
	}
	b.ResetTimer()
	for range b.N {
		if r := s.Execute(context.Background(), "t := 0\nfor i := 0; i < 10000; i++ {\n\tt += at(i)\n}", h); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}
