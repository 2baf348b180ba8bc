package tensor

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// writePieces writes want to a new file through a blockWriter, cut at the given offsets, the
// pieces in a random order from several goroutines, each piece from memory of the phase asked
// (aligned with its file offset, or not), and returns what the file then holds.
func writePieces(t *testing.T, want []byte, cuts []int64, direct bool, placed bool, rng *rand.Rand) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newBlockWriter(f, int64(len(want)))
	if !direct {
		w.Abort()
	}
	if direct && w.direct == nil {
		t.Skip("the temporary folder's file system refuses O_DIRECT")
	}
	type piece struct{ lo, hi int64 }
	var pieces []piece
	prev := int64(0)
	for _, c := range append(cuts, int64(len(want))) {
		pieces = append(pieces, piece{prev, c})
		prev = c
	}
	rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
	var wg sync.WaitGroup
	errs := make(chan error, len(pieces))
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(pieces); i += 3 {
				pc := pieces[i]
				n := int(pc.hi - pc.lo)
				back := make([]byte, n+2*directAlign)
				phase := int(pc.lo%directAlign) + 1 // never the phase that avoids the copy
				if placed {
					phase, _ = w.Phase(pc.lo)
				}
				buf := back[alignPhase(back, phase):][:n]
				copy(buf, want[pc.lo:pc.hi])
				errs <- w.WriteAt(buf, pc.lo)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBlockWriterAssemblesAnyCuts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 100, directAlign, directAlign + 1, 5*directAlign - 3, 3 << 20} {
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(rng.Uint32())
		}
		for trial := 0; trial < 4; trial++ {
			// Cuts anywhere, on block boundaries and one byte either side of them.
			var cuts []int64
			for c := int64(1); c < int64(size); {
				switch rng.IntN(3) {
				case 0:
					c += 1 + rng.Int64N(int64(2*directAlign))
				case 1:
					c = roundUp(c+1, directAlign)
				default:
					c = roundUp(c+1, directAlign) + rng.Int64N(3) - 1
				}
				if c > 0 && c < int64(size) && (len(cuts) == 0 || c > cuts[len(cuts)-1]) {
					cuts = append(cuts, c)
				}
				if rng.IntN(8) == 0 {
					c += int64(size / 3)
				}
			}
			for _, direct := range []bool{true, false} {
				for _, placed := range []bool{true, false} {
					got := writePieces(t, want, cuts, direct, placed, rng)
					if !bytes.Equal(got, want) {
						t.Fatalf("size %d, cuts %v, direct %v, placed %v: file differs from what was written (%d bytes, want %d)", size, cuts, direct, placed, len(got), len(want))
					}
				}
			}
		}
	}
}

func TestBlockWriterRefusesOverlapsAndGaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newBlockWriter(f, 3*directAlign)
	if w.direct == nil {
		t.Skip("the temporary folder's file system refuses O_DIRECT")
	}
	if err := w.WriteAt(make([]byte, 10), 5); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteAt(make([]byte, directAlign-1), 1); err == nil || !strings.Contains(err.Error(), "overlapping") {
		t.Fatalf("overlapping write: got %v", err)
	}
	if err := w.WriteAt(make([]byte, 1), 3*directAlign); err == nil {
		t.Fatal("a write past the end was accepted")
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "never written") {
		t.Fatalf("Close with a block half written: got %v", err)
	}
}

// A shared block's write fails on the writer's own goroutine: Close must report it.
func TestBlockWriterReportsSharedBlockFailures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newBlockWriter(f, 2*directAlign)
	if w.direct == nil {
		t.Skip("the temporary folder's file system refuses O_DIRECT")
	}
	// A descriptor that refuses writes in place of the direct one.
	w.direct.Close()
	if w.direct, err = os.Open(path); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteAt(make([]byte, directAlign+100), 0); err == nil {
		t.Fatal("a whole block's write through a read-only descriptor succeeded")
	}
	// The shared block [4096, 8192) completes with this write and is written later.
	if err := w.WriteAt(make([]byte, directAlign-100), directAlign+100); err != nil {
		t.Fatalf("completing a shared block: %v", err)
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "bad file descriptor") {
		t.Fatalf("Close after the shared block's write failed: got %v", err)
	}
}
