package tensor

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// directAlign is the alignment of direct writes, for file offsets, lengths and memory alike:
// a page, which is at least the logical block size of every disk Linux supports O_DIRECT on.
const directAlign = 4096

// blockWriter writes a file of known size, piece by piece at arbitrary offsets and from several
// goroutines, with direct I/O (O_DIRECT) where the file system allows it: whole aligned blocks
// go to the disk without passing through the page cache. On the virtual machines merges often
// run in, filling fresh page-cache pages costs more than the merge's arithmetic (a buffered
// 1 GiB write took 0.2 to 9 s of system time, a direct one 0.1 s), and a merged model that
// stays cached only pushes out the inputs still being read.
//
// A block that a write covers only partly (the header's last block, a tensor's first and last
// blocks, which neighbouring tensors share) is assembled in memory and written once its every
// byte has arrived, by a goroutine of the writer's own: a direct write's latency hardly depends
// on its size (on a VM, behind the merge's other writes, 1.5 ms for one block, 4 ms for
// 4 MiB), and a merge has a few hundred such blocks, which written by the goroutine that
// completed them stalled its stream of large writes for a third of its time. Every byte of
// [0, size) must be written exactly once (a shared block that receives more bytes than it
// holds is reported as overlapping writes). The file's last block is written whole, past
// size; Close truncates it.
type blockWriter struct {
	buffered *os.File // the file as opened for ordinary writes; used when direct I/O is refused
	direct   *os.File // the same file opened with O_DIRECT, or nil
	size     int64

	mu      sync.Mutex
	partial map[int64]*partialBlock // by block index, under mu

	stageMu sync.Mutex
	stage   []byte // an aligned staging buffer (under stageMu), for unaligned memory

	refused atomic.Bool // a direct write failed with EINVAL: write through the page cache

	// completed shared blocks, written by a goroutine started with the first; its first
	// error is kept in tailErr, read after tailDone is closed
	tail     chan tailBlock
	tailDone chan struct{}
	tailErr  error
}

type tailBlock struct {
	buf []byte
	off int64
}

// tailBlocks bounds the completed shared blocks waiting for their write (4 KiB each).
const tailBlocks = 64

type partialBlock struct {
	buf    []byte // directAlign bytes, aligned
	filled int
}

// newBlockWriter writes f, a regular file just created, of the given final size; direct I/O
// is used when the platform and file system allow it.
func newBlockWriter(f *os.File, size int64) *blockWriter {
	return &blockWriter{buffered: f, direct: openDirect(f.Name(), size), size: size, partial: map[int64]*partialBlock{}}
}

// alignedBytes returns n zero bytes whose address is a multiple of directAlign.
func alignedBytes(n int) []byte {
	b := make([]byte, n+directAlign)
	return b[alignPhase(b, 0):][:n:n]
}

// alignPhase is the index in b from which an address has the given remainder modulo
// directAlign.
func alignPhase(b []byte, phase int) int {
	if cap(b) == 0 {
		return 0
	}
	addr := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % directAlign)
	return ((phase-addr)%directAlign + directAlign) % directAlign
}

// Phase is the remainder modulo the direct-write alignment that a buffer holding the bytes for
// file offset off should start at, for WriteAt to pass it to the disk without a copy; and that
// alignment (0 when writes go through the page cache and placement does not matter).
func (w *blockWriter) Phase(off int64) (phase, align int) {
	if w.direct == nil {
		return 0, 0
	}
	return int(off % directAlign), directAlign
}

// WriteAt writes p at offset off.
func (w *blockWriter) WriteAt(p []byte, off int64) error {
	end := off + int64(len(p))
	if off < 0 || end > w.size {
		return fmt.Errorf("write [%d, %d) lies outside the file's %d bytes", off, end, w.size)
	}
	if len(p) == 0 {
		return nil
	}
	if w.direct == nil {
		_, err := w.buffered.WriteAt(p, off)
		return err
	}
	// [off, lo) and [hi, end) lie in blocks shared with other writes; [lo, hi) is whole blocks.
	lo := min(roundUp(off, directAlign), end)
	hi := max(end/directAlign*directAlign, lo)
	if err := w.fill(off, p[:lo-off]); err != nil {
		return err
	}
	if err := w.fill(hi, p[hi-off:]); err != nil {
		return err
	}
	mid := p[lo-off : hi-off]
	if len(mid) == 0 {
		return nil
	}
	if alignPhase(mid, 0) == 0 {
		return w.writeBlocks(mid, lo)
	}
	// Memory not aligned: through the staging buffer.
	w.stageMu.Lock()
	defer w.stageMu.Unlock()
	if w.stage == nil {
		w.stage = alignedBytes(1 << 20)
	}
	for len(mid) > 0 {
		n := copy(w.stage, mid)
		if err := w.writeBlocks(w.stage[:n], lo); err != nil {
			return err
		}
		mid, lo = mid[n:], lo+int64(n)
	}
	return nil
}

func roundUp(n, a int64) int64 { return (n + a - 1) / a * a }

// fill adds p, which lies within one block, to that block, and writes the block once complete.
func (w *blockWriter) fill(off int64, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	b := off / directAlign
	capacity := int(min(directAlign, w.size-b*directAlign)) // the file's last block may be short
	w.mu.Lock()
	blk := w.partial[b]
	if blk == nil {
		blk = &partialBlock{buf: alignedBytes(directAlign)}
		w.partial[b] = blk
	}
	copy(blk.buf[off-b*directAlign:], p)
	blk.filled += len(p)
	if blk.filled > capacity {
		w.mu.Unlock()
		return fmt.Errorf("block at %d: %d bytes written to %d (overlapping writes)", b*directAlign, blk.filled, capacity)
	}
	done := blk.filled == capacity
	if done {
		delete(w.partial, b)
	}
	w.mu.Unlock()
	if !done {
		return nil
	}
	w.mu.Lock()
	if w.tail == nil {
		w.tail, w.tailDone = make(chan tailBlock, tailBlocks), make(chan struct{})
		go w.writeTail(w.tail)
	}
	tail := w.tail
	w.mu.Unlock()
	tail <- tailBlock{blk.buf, b * directAlign}
	return nil
}

// writeTail writes the completed shared blocks until tail is closed.
func (w *blockWriter) writeTail(tail <-chan tailBlock) {
	defer close(w.tailDone)
	for t := range tail {
		if w.tailErr == nil {
			w.tailErr = w.writeBlocks(t.buf, t.off)
		}
	}
}

// stopTail waits for the shared blocks' writes and returns their first error.
func (w *blockWriter) stopTail() error {
	w.mu.Lock()
	tail := w.tail
	w.tail = nil
	w.mu.Unlock()
	if tail == nil {
		return nil
	}
	close(tail)
	<-w.tailDone
	return w.tailErr
}

// writeBlocks writes whole aligned blocks from aligned memory.
func (w *blockWriter) writeBlocks(p []byte, off int64) error {
	if !w.refused.Load() {
		_, err := w.direct.WriteAt(p, off)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EINVAL) {
			return err
		}
		// The file system takes O_DIRECT at open but not these writes (an alignment it wants
		// larger than a page): the page cache takes them all from now on.
		w.refused.Store(true)
	}
	_, err := w.buffered.WriteAt(p, off)
	return err
}

// Close checks that every block was completed, closes the direct descriptor and cuts the file
// to its size. The buffered descriptor stays open (its owner syncs and closes it).
func (w *blockWriter) Close() error {
	err := w.stopTail()
	if w.direct != nil {
		w.mu.Lock()
		for b, blk := range w.partial {
			if err == nil {
				err = fmt.Errorf("block at %d: %d of its bytes never written", b*directAlign, blk.filled)
			}
			break
		}
		w.mu.Unlock()
		if cerr := w.direct.Close(); err == nil {
			err = cerr
		}
		w.direct = nil
	}
	if err != nil {
		return err
	}
	return w.buffered.Truncate(w.size)
}

// Abort closes the direct descriptor, if any.
func (w *blockWriter) Abort() {
	w.stopTail()
	if w.direct != nil {
		w.direct.Close()
		w.direct = nil
	}
}
