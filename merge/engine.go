package merge

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/ordermerge/ordermerge/merge/internal/vec"
	"github.com/ordermerge/ordermerge/tensor"
)

// streamChunk caps the chunk, in elements, of single-pass merges: large enough that system
// calls cost nothing, small enough that a chunk read is still in cache when it is decoded.
const streamChunk = 1 << 20

// DefaultMaxMemory is the default budget for the buffers of a merge. It keeps the peak RSS of a
// merge of any size well under 512 MiB; a larger budget lets whole-tensor methods (TIES,
// slerp, model stock, DARE with l1 rescaling) hold bigger tensors whole instead of re-reading
// them once per statistics pass.
const DefaultMaxMemory = 256 << 20

// Progress reports how far a merge is. Bytes count every input byte once (statistics passes
// that re-read a tensor are not counted again) plus every output byte.
type Progress struct {
	Done, Total           int64
	Tensors, TensorsTotal int
	Elapsed               time.Duration
}

// Rate is the throughput so far in bytes per second.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// Fraction is the share done, in [0, 1].
func (p Progress) Fraction() float64 {
	if p.Total <= 0 {
		return 1
	}
	return float64(p.Done) / float64(p.Total)
}

// sink receives the output tensors' bytes, chunk by chunk, from several goroutines.
type sink interface {
	writeChunk(name string, off int64, p []byte) error
}

// phaser is a sink that writes chunks without copying them when their bytes sit at the right
// place in memory (tensor.Writer's direct writes): at an address whose remainder modulo align
// is phase.
type phaser interface {
	ChunkPhase(name string, off int64) (phase, align int)
}

type runOptions struct {
	maxMemory   int64
	workers     int
	checkFinite bool
	keepSources bool
	noMap       bool
	progress    func(Progress)
}

// layout is how the memory budget is spent: workers tensors in flight, each with buffers for
// chunk elements of every input and of the output.
type layout struct {
	workers  int
	chunk    int   // elements per chunk (a multiple of blockElems)
	slotSize []int // bytes per element of each input slot (models, then the base)
	outSize  int
	perElem  int
}

// slots: 0..K-1 are the models, K is the base.
func (p *plan) baseSlot() int { return len(p.models) }

func (p *plan) layout(maxMemory int64, workers int) (layout, error) {
	l := layout{slotSize: make([]int, len(p.models)+1), outSize: 1}
	maxNumel := 0
	for _, tp := range p.tensors {
		maxNumel = max(maxNumel, tp.numel)
		l.outSize = max(l.outSize, tp.outDType.Size())
		if tp.kind == kindCopyRaw {
			continue // copied through the output buffer
		}
		for k, m := range tp.present {
			l.slotSize[m] = max(l.slotSize[m], tp.inDType[k].Size())
		}
		if tp.hasBase {
			l.slotSize[p.baseSlot()] = max(l.slotSize[p.baseSlot()], tp.baseDType.Size())
		}
	}
	// Two output chunks: one is written to disk while the next is computed.
	l.perElem = 2 * l.outSize
	for _, s := range l.slotSize {
		l.perElem += s
	}
	// Decoded float32 blocks for every slot and the output, the source indices, the
	// kernels' scratch (a block of 32-bit draws per model and two more), and the methods' own
	// state for one tensor (top-k's count tables and tie order, DELLA's ranking): once per
	// worker.
	k := len(p.models)
	fixed := int64((len(l.slotSize)+1)*blockElems*4+blockElems+(k+2)*blockElems*4) + p.maxKernelState()
	need := fixed + int64(blockElems*l.perElem)
	if maxMemory <= 0 {
		maxMemory = DefaultMaxMemory
	}
	if maxMemory < need {
		return l, fmt.Errorf("memory budget of %s is too small for %d inputs: at least %s is needed", tensor.FormatBytes(maxMemory), len(p.models)+boolInt(p.base != nil), tensor.FormatBytes(need))
	}
	w := workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	w = max(1, min(w, len(p.tensors)))
	for w > 1 && maxMemory/int64(w) < need {
		w--
	}
	chunk := (maxMemory/int64(w) - fixed) / int64(l.perElem)
	chunk = chunk / blockElems * blockElems
	// No buffer larger than the largest tensor.
	chunk = min(chunk, int64((maxNumel+blockElems-1)/blockElems*blockElems))
	l.workers, l.chunk = w, max(int(chunk), blockElems)
	return l, nil
}

// releaseElems is how many elements of each mapped input a worker reads before it gives
// their pages back (4 MiB of float32).
const releaseElems = 16 * blockElems

// kernelState is implemented by the built-in kernels whose state grows with their tensor
// beyond the engine's buffers: the most bytes they hold at once while merging it.
type kernelState interface{ stateBytes() int64 }

// maxKernelState is the largest kernelState of the plan's tensors. Kernels are cheap to make
// (large state comes on first use), so each tensor's is made and asked.
func (p *plan) maxKernelState() int64 {
	var most int64
	for _, tp := range p.tensors {
		if tp.kind != kindMerge {
			continue
		}
		k, err := p.kernel(tp, nil)
		if err != nil {
			continue // reported when the tensor is merged
		}
		if s, ok := k.(kernelState); ok {
			most = max(most, s.stateBytes())
		}
	}
	return most
}

// execute runs the plan, writing through out, and returns a report per tensor in plan order.
// It stops at the next chunk boundary when ctx is cancelled or a worker fails.
func (p *plan) execute(ctx context.Context, out sink, opt runOptions) ([]TensorReport, error) {
	l, err := p.layout(opt.maxMemory, opt.workers)
	if err != nil {
		return nil, err
	}
	prog := &progressState{fn: opt.progress, start: time.Now(), total: Progress{TensorsTotal: len(p.tensors)}}
	for _, tp := range p.tensors {
		prog.total.Total += p.tensorBytes(tp)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reports := make([]TensorReport, len(p.tensors))
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	for range l.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(ctx, p, l, opt.checkFinite, out, prog, fail)
			w.keepSources, w.noMap = opt.keepSources, opt.noMap
			// Inputs are read through memory maps: a file truncated under the merge then
			// faults on the read, which processRecovered turns into the merge's error.
			debug.SetPanicOnFault(true)
			defer w.close()
			for i := range jobs {
				if ctx.Err() != nil {
					continue
				}
				rep, err := w.processRecovered(ctx, p.tensors[i])
				if err != nil {
					fail(err)
					continue
				}
				reports[i] = rep
			}
		}()
	}
	// Largest first: with the embeddings at the ends of a checkpoint's order, the last of
	// them would otherwise run alone on one worker while the others sit idle (Llama 1B in
	// f32: a quarter of the merge). The output's order does not change: chunks are written
	// at their offsets.
	order := make([]int, len(p.tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return p.tensors[order[a]].numel > p.tensors[order[b]].numel
	})
feed:
	for _, i := range order {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return reports, nil
}

// tensorBytes is what a tensor contributes to Progress.Total.
func (p *plan) tensorBytes(tp *tensorPlan) int64 {
	outBytes, _ := tensor.ByteSize(tp.outDType, tp.shape)
	n := int64(tp.numel)
	if tp.kind == kindCopyRaw {
		return 2 * outBytes
	}
	var in int64
	if tp.kind == kindCopy {
		if tp.copyFrom < 0 {
			return n*int64(tp.baseDType.Size()) + outBytes
		}
		for k, m := range tp.present {
			if m == tp.copyFrom {
				return n*int64(tp.inDType[k].Size()) + outBytes
			}
		}
	}
	for _, dt := range tp.inDType {
		in += n * int64(dt.Size())
	}
	if tp.hasBase {
		in += n * int64(tp.baseDType.Size())
	}
	return in + outBytes
}

type progressState struct {
	mu    sync.Mutex
	fn    func(Progress)
	start time.Time
	total Progress
}

func (s *progressState) add(bytes int64, tensorDone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total.Done += bytes
	if tensorDone {
		s.total.Tensors++
	}
	if s.fn != nil {
		pr := s.total
		pr.Elapsed = time.Since(s.start)
		s.fn(pr) // under the lock: callbacks never overlap
	}
}

// input is one tensor input as the worker reads it.
type input struct {
	src   source
	slot  int
	dtype tensor.DType
	label string
}

// worker owns one set of buffers and merges one tensor at a time. Its output chunks go to a
// writer goroutine of its own, so that computing the next chunk overlaps writing this one
// (writes block when the kernel throttles a process with many dirty pages).
type worker struct {
	p           *plan
	l           layout
	checkFinite bool
	keepSources bool
	noMap       bool // read every input into buffers, mapped or not (tests of that path)
	arena       arena
	prog        *progressState
	raw         [][]byte    // per slot
	f32         [][]float32 // per slot, one block
	outF32      []float32
	src         []uint8
	// write-behind: outBufs are handed to the writer and come back on free; outWin is the
	// part of each that holds the chunk in flight (placed for the sink, see phaser).
	outBufs [2][]byte
	outWin  [2][]byte
	out     sink
	free    chan int
	writes  chan writeJob
	done    chan struct{}
}

type writeJob struct {
	name       string
	off        int64
	buf        int // index into outBufs
	n          int // bytes
	progress   int64
	tensorDone bool
}

func newWorker(ctx context.Context, p *plan, l layout, checkFinite bool, out sink, prog *progressState, fail func(error)) *worker {
	w := &worker{p: p, l: l, checkFinite: checkFinite, prog: prog,
		out: out, free: make(chan int, 2), writes: make(chan writeJob, 2), done: make(chan struct{})}
	w.raw = make([][]byte, len(l.slotSize))
	w.f32 = make([][]float32, len(l.slotSize))
	w.free <- 0
	w.free <- 1
	go func() {
		defer close(w.done)
		failed := false
		for j := range w.writes {
			if !failed && ctx.Err() == nil {
				if err := writeRecovered(out, j.name, j.off, w.outWin[j.buf][:j.n]); err != nil {
					failed = true
					fail(err)
				} else {
					prog.add(j.progress, j.tensorDone)
				}
			}
			w.free <- j.buf
		}
	}()
	return w
}

// writeRecovered is out.writeChunk with a panic returned as an error (see processRecovered).
func writeRecovered(out sink, name string, off int64, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tensor %s: panic while writing: %v", name, r)
		}
	}()
	return out.writeChunk(name, off, b)
}

// close waits for the writes in flight.
func (w *worker) close() {
	close(w.writes)
	<-w.done
}

// Buffers are allocated on first use, at the single-pass size, and grown once to the full
// chunk when a tensor needs more (statistics passes over a whole tensor): slots that never
// take part cost nothing, single-pass merges stay far below the budget, and growing never
// leaves a trail of garbage.
func (w *worker) rawBuf(slot, n int) []byte {
	size := n * w.l.slotSize[slot]
	if len(w.raw[slot]) < size {
		w.raw[slot] = nil // let the smaller one go before taking the larger
		w.raw[slot] = make([]byte, w.bufElems(n)*w.l.slotSize[slot])
	}
	return w.raw[slot][:size]
}

// bufElems is the capacity, in elements, of a buffer that must hold n.
func (w *worker) bufElems(n int) int {
	if small := min(w.l.chunk, streamChunk); n <= small {
		return small
	}
	return w.l.chunk
}

func (w *worker) f32Buf(slot int) []float32 {
	if w.f32[slot] == nil {
		w.f32[slot] = make([]float32, blockElems)
	}
	return w.f32[slot]
}

// nextOut returns a free output buffer of at least size bytes for the chunk of the named
// tensor at byte offset off, waiting for one to come back from the writer.
func (w *worker) nextOut(ctx context.Context, name string, off int64, size int) (int, []byte, error) {
	select {
	case i := <-w.free:
		phase, align := 0, 0
		if ph, ok := w.out.(phaser); ok {
			phase, align = ph.ChunkPhase(name, off)
		}
		if phase%8 != 0 {
			// The file offset is not a multiple of 8 (a tensor of odd size came before):
			// elements placed there would be misaligned in memory; let the sink copy them.
			phase, align = 0, 0
		}
		if len(w.outBufs[i]) < size+align {
			w.outBufs[i] = nil
			w.outBufs[i] = make([]byte, w.bufElems((size+w.l.outSize-1)/w.l.outSize)*w.l.outSize+align)
		}
		start := 0
		if align > 0 {
			addr := int(uintptr(unsafe.Pointer(&w.outBufs[i][0])) % uintptr(align))
			start = ((phase-addr)%align + align) % align
		}
		w.outWin[i] = w.outBufs[i][start:]
		return i, w.outWin[i], nil
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// processRecovered is process with a panic (of a merge method, say a registered one given a
// tensor it did not expect) turned into the merge's error: a panic on this worker goroutine
// would otherwise end the process, a notebook kernel with all its variables included. The
// merge stops at the error, so the worker's buffers are not used again.
func (w *worker) processRecovered(ctx context.Context, tp *tensorPlan) (rep TensorReport, err error) {
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("tensor %s: memory fault at %#x while merging: an input file was truncated or changed during the merge, or the method wrote to its read-only input (%v)", tp.name, f.Addr(), r)
			} else {
				err = fmt.Errorf("tensor %s: panic while merging: %v", tp.name, r)
			}
			rep = TensorReport{}
		}
	}()
	return w.process(ctx, tp)
}

func (w *worker) process(ctx context.Context, tp *tensorPlan) (TensorReport, error) {
	if tp.kind == kindCopyRaw {
		return w.copyRaw(ctx, tp)
	}
	kern, err := w.p.kernel(tp, &w.arena)
	if err != nil {
		return TensorReport{}, fmt.Errorf("tensor %s: %w", tp.name, err)
	}
	// The inputs in block order: the models present (for a copy, just its source), then the base.
	var models []input
	var base *input
	p := w.p
	useBase := tp.hasBase && (tp.kind == kindMerge || tp.copyFrom < 0)
	if useBase {
		base = &input{src: p.base, slot: p.baseSlot(), dtype: tp.baseDType, label: p.baseName}
	}
	for k, m := range tp.present {
		if tp.kind == kindCopy && m != tp.copyFrom {
			continue
		}
		models = append(models, input{src: p.models[m], slot: m, dtype: tp.inDType[k], label: p.labels[m]})
	}
	all := models
	if base != nil {
		all = append(append([]input(nil), models...), *base)
	}
	st := newTensorStats(len(models))
	// A selecting method only copies input values: when every input is stored in the output
	// dtype, they need no rounding.
	exact := p.info.Selecting || tp.kind == kindCopy
	for _, in := range all {
		exact = exact && in.dtype == tp.outDType
	}
	passes := kern.ScanPasses()
	// One pass needs no whole tensor in memory: small chunks then keep the read buffers in
	// cache between the read and the decode.
	chunk := w.l.chunk
	if passes == 0 {
		chunk = min(chunk, streamChunk)
	}
	whole := tp.numel <= chunk
	outSize := tp.outDType.Size()
	var blk Block
	blk.Models = make([][]float32, len(models))
	selecting := p.info.Selecting && tp.kind == kindMerge
	if selecting && w.keepSources {
		st.sources = make([]uint8, tp.numel)
	}
	// cur holds each input's bytes of the current chunk: a view of its memory-mapped file, or
	// what was read into the worker's buffer. Mapped pages are given back every releaseElems
	// elements, so they take little resident memory (the page cache keeps them: a later pass
	// re-reads them with minor faults, not copies).
	cur := make([][]byte, len(all))
	views := make([][]byte, len(all))
	releases := make([]func([]byte), len(all))
	for i, in := range all {
		if m, ok := in.src.(mappedSource); ok && !w.noMap {
			if v, rel, ok := m.mapped(tp.name); ok && len(v) == tp.numel*in.dtype.Size() {
				views[i], releases[i] = v, rel
			}
		}
	}
	// release gives back the mapped pages of elements [from, to) of the current chunk.
	release := func(from, to int) {
		for i, rel := range releases {
			if rel != nil {
				size := all[i].dtype.Size()
				rel(cur[i][from*size : to*size])
			}
		}
	}
	// blocks decodes one chunk block by block and scans or merges it; merged blocks are
	// encoded into rawOut.
	blocks := func(pass, c0, n int, rawOut []byte) error {
		output := rawOut != nil
		released := 0
		defer func() { release(released, n) }()
		for b0 := 0; b0 < n; b0 += blockElems {
			if b0-released >= releaseElems {
				release(released, b0)
				released = b0
			}
			bn := min(blockElems, n-b0)
			blk.Offset = c0 + b0
			for i, in := range all {
				size := in.dtype.Size()
				raw := cur[i][b0*size : (b0+bn)*size]
				// Stored float32 needs no decoding: the kernel reads the bytes as read
				// (kernels never write to their inputs; see Block).
				dst, ok := float32View(raw, in.dtype)
				if !ok {
					dst = w.f32Buf(in.slot)[:bn]
					if err := decodeBlock(dst, raw, in.dtype); err != nil {
						return fmt.Errorf("tensor %s: %s: %w", tp.name, in.label, err)
					}
				}
				if i < len(models) {
					blk.Models[i] = dst
				} else {
					blk.Base = dst
				}
				if w.checkFinite && pass == 0 {
					if j := firstNonFinite(dst); j >= 0 {
						return fmt.Errorf("tensor %s: %s has %v at element %d (non-finite values are not allowed)", tp.name, in.label, dst[j], blk.Offset+j)
					}
				}
			}
			if base == nil {
				blk.Base = nil
			}
			if !output {
				blk.Out, blk.Source = nil, nil
				kern.Scan(pass, &blk)
				continue
			}
			if w.outF32 == nil {
				w.outF32, w.src = make([]float32, blockElems), make([]uint8, blockElems)
			}
			dst := rawOut[b0*outSize : (b0+bn)*outSize]
			// A float32 output is merged straight into the output chunk.
			outView, direct := float32View(dst, tp.outDType)
			blk.Out, blk.Source = w.outF32[:bn], w.src[:bn]
			if direct {
				blk.Out = outView
			}
			kern.Merge(&blk)
			switch {
			case direct:
			case exact:
				encodeExact(dst, blk.Out, tp.outDType)
			default:
				encodeRounded(dst, blk.Out, tp.outDType)
			}
			if w.checkFinite {
				if j := firstNonFinite(blk.Out); j >= 0 {
					return fmt.Errorf("tensor %s: the merged value at element %d is %v (out of range for %s?)", tp.name, blk.Offset+j, blk.Out[j], tp.outDType)
				}
			}
			st.add(&blk, selecting)
			if st.sources != nil {
				copy(st.sources[blk.Offset:], blk.Source)
			}
		}
		return nil
	}
	loaded := false
	for pass := 0; pass <= passes; pass++ {
		output := pass == passes
		for c0 := 0; c0 < tp.numel; c0 += chunk {
			if err := ctx.Err(); err != nil {
				return TensorReport{}, err
			}
			n := min(chunk, tp.numel-c0)
			var chunkBytes int64
			for i, in := range all {
				size := in.dtype.Size()
				chunkBytes += int64(n * size)
				if whole && loaded {
					continue
				}
				if views[i] != nil {
					cur[i] = views[i][c0*size : (c0+n)*size]
					continue
				}
				cur[i] = w.rawBuf(in.slot, min(chunk, tp.numel))[:n*size]
				if err := in.src.readAt(tp.name, cur[i], int64(c0)*int64(size)); err != nil {
					return TensorReport{}, err
				}
			}
			loaded = true
			if !output {
				if err := blocks(pass, c0, n, nil); err != nil {
					return TensorReport{}, err
				}
				continue
			}
			outIdx, rawOut, err := w.nextOut(ctx, tp.name, int64(c0)*int64(outSize), n*outSize)
			if err != nil {
				return TensorReport{}, err
			}
			if err := blocks(pass, c0, n, rawOut); err != nil {
				w.free <- outIdx
				return TensorReport{}, err
			}
			w.writes <- writeJob{name: tp.name, off: int64(c0) * int64(outSize), buf: outIdx, n: n * outSize,
				progress: chunkBytes + int64(n*outSize), tensorDone: c0+n == tp.numel}
		}
		if !output {
			kern.EndScan(pass)
			if f, ok := kern.(Failer); ok {
				if err := f.Err(); err != nil {
					return TensorReport{}, fmt.Errorf("tensor %s: %w", tp.name, err)
				}
			}
		}
	}
	if tp.numel == 0 {
		w.prog.add(0, true)
	}
	rep := st.report(tp, len(p.models), models, base != nil, selecting)
	if n, ok := kern.(Noter); ok && tp.numel > 0 {
		rep.Note = joinNote(rep.Note, n.Note())
	}
	return rep, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + "; " + b
}

// copyRaw copies a non-float tensor byte for byte from the base (or first model having it).
func (w *worker) copyRaw(ctx context.Context, tp *tensorPlan) (TensorReport, error) {
	src := w.p.base
	if tp.copyFrom >= 0 {
		src = w.p.models[tp.copyFrom]
	}
	size, _ := tensor.ByteSize(tp.outDType, tp.shape)
	step := int64(min(w.l.chunk, streamChunk) * w.l.outSize)
	for off := int64(0); off < size; off += step {
		if err := ctx.Err(); err != nil {
			return TensorReport{}, err
		}
		n := min(step, size-off)
		idx, buf, err := w.nextOut(ctx, tp.name, off, int(n))
		if err != nil {
			return TensorReport{}, err
		}
		if err := src.readAt(tp.name, buf[:n], off); err != nil {
			w.free <- idx
			return TensorReport{}, err
		}
		w.writes <- writeJob{name: tp.name, off: off, buf: idx, n: int(n), progress: 2 * n, tensorDone: off+n == size}
	}
	if size == 0 {
		w.prog.add(0, true)
	}
	return TensorReport{Name: tp.name, Shape: tp.shape, DType: tp.outDType.String(), Elements: int64(tp.numel), Note: tp.note}, nil
}

// firstNonFinite returns the index of the first NaN or ±Inf in v, or -1.
func firstNonFinite(v []float32) int {
	for i, x := range v {
		if math.Float32bits(x)&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}

// tensorStats accumulates the report's numbers for one tensor over its blocks, in order.
type tensorStats struct {
	sources  []uint8 // per element, when kept
	dist2    []float64
	baseEq   []int64
	taken    []int64
	keptBase int64
	n        int64
}

func newTensorStats(k int) *tensorStats {
	return &tensorStats{dist2: make([]float64, k), baseEq: make([]int64, k), taken: make([]int64, k)}
}

func (s *tensorStats) add(b *Block, selecting bool) {
	out := b.Out
	n := len(out)
	s.n += int64(n)
	for i, x := range b.Models {
		// The difference is taken in float32 (relative error 2^-24, plenty for a report) and
		// squared and summed in float64, in a fixed grouping (vec.SumSqDiff), so the result
		// does not depend on anything but the block.
		s.dist2[i] += vec.SumSqDiff(x[:n], out)
		if b.Base != nil {
			s.baseEq[i] += vec.CountEqual(x[:n], b.Base)
		}
	}
	if selecting {
		// Four interleaved histograms avoid a chain of increments of the same counter.
		var h [4][256]int64
		src := b.Source
		j := 0
		for ; j+4 <= len(src); j += 4 {
			h[0][src[j]]++
			h[1][src[j+1]]++
			h[2][src[j+2]]++
			h[3][src[j+3]]++
		}
		for ; j < len(src); j++ {
			h[0][src[j]]++
		}
		for m := range s.taken {
			s.taken[m] += h[0][m] + h[1][m] + h[2][m] + h[3][m]
		}
		s.keptBase += h[0][sourceBase] + h[1][sourceBase] + h[2][sourceBase] + h[3][sourceBase]
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
