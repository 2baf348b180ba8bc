package parallel

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

func TestForCoversRangeOnce(t *testing.T) {
	for _, workers := range []int{1, 2, 3, 8} {
		for _, n := range []int{0, 1, 5, 17} {
			var hits [17]atomic.Int32
			For(workers, n, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					hits[i].Add(1)
				}
			})
			for i := 0; i < n; i++ {
				if hits[i].Load() != 1 {
					t.Fatalf("workers %d n %d: index %d visited %d times", workers, n, i, hits[i].Load())
				}
			}
		}
	}
}

func TestWorkerPanicReachesCaller(t *testing.T) {
	for _, run := range []struct {
		name string
		fn   func()
	}{
		{"For", func() {
			For(4, 100, func(lo, hi int) {
				if lo > 0 { // not the caller's own chunk
					var s []int
					_ = s[lo]
				}
			})
		}},
		{"Each", func() { Each(3, 50, func(k int) { panic(errors.New("boom")) }) }},
	} {
		t.Run(run.name, func(t *testing.T) {
			var err error
			func() {
				defer Recover(&err, "op")
				run.fn()
			}()
			if err == nil {
				t.Fatal("panic on a worker was not recovered into an error")
			}
			if !strings.HasPrefix(err.Error(), "op: internal error: panic on a worker goroutine: ") {
				t.Fatalf("error %q", err)
			}
		})
	}
}

func TestRecoverUnwrapsWorkerError(t *testing.T) {
	sentinel := errors.New("sentinel")
	var err error
	func() {
		defer Recover(&err, "op")
		Each(2, 4, func(k int) { panic(sentinel) })
	}()
	if !errors.Is(err, sentinel) {
		t.Fatalf("errors.Is(%v, sentinel) = false", err)
	}
}
