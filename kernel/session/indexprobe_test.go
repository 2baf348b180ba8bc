package session

import (
	"context"
	"testing"
)

// BenchmarkIndexProbe is an interpreted loop of calls to a small cell function that indexes a
// slice, with the probe (see indexprobe.go) and without it: its cost is one deferred call per
// interpreted call.
func BenchmarkIndexProbe(b *testing.B) {
	for _, probe := range []bool{true, false} {
		name := map[bool]string{true: "probe", false: "off"}[probe]
		b.Run(name, func(b *testing.B) {
			saved := indexProbeLayout
			defer func() { indexProbeLayout = saved }()
			indexProbeLayout.ok = probe && saved.ok
			s, err := New(Options{})
			if err != nil {
				b.Fatal(err)
			}
			h := &memHost{}
			if r := s.Execute(context.Background(), "xs := []int{1, 2, 3}\nfunc at(i int) int { return xs[i%3] }\n"+
				"func loop() int {\n\tt := 0\n\tfor i := 0; i < 10000; i++ {\n\t\tt += at(i)\n\t}\n\treturn t\n}", h); r.Err != nil {
				b.Fatal(r.Err)
			}
			b.ResetTimer()
			for range b.N {
				if r := s.Execute(context.Background(), "loop()", h); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		})
	}
}
