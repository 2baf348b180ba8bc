package merge

import (
	"fmt"
	"math"
	"slices"

	"github.com/ordermerge/ordermerge/tensor"
)

// DELLA's magnitude-ranked pruning (MAGPRUNE), as mergekit's della_magprune does it: the task
// vector is seen as a 2-D tensor (a 1-D one as a single row); along its second dimension each
// element gets its rank among the magnitudes of its group (ascending, ties in torch's sort
// order), the ranks map linearly onto keep probabilities from density - epsilon (smallest)
// to density + epsilon (largest), and each element is kept with its probability. Tensors of
// more dimensions rank along dimension 1 as torch's argsort(dim=1) does: the group of an
// element is the elements that differ from it only in their index along dimension 1.
//
// Streaming: a slab is the elements that share the index along dimension 0 (a row of a 2-D
// tensor); every group lies inside one slab. The engine's blocks start at multiples of
// blockElems, so which slabs straddle a block boundary depends only on the shape. A slab
// inside a block is ranked when the block is seen. A straddling slab is collected in the
// statistics pass, ranked when complete, and only its keep bits are held until the output
// pass has written it: at most one bit per element of the straddling slabs (none when the
// slab length divides blockElems). Without L1 rescaling the slabs inside blocks are ranked in
// the output pass only. With it (mergekit's default) the statistics pass must rank every slab
// for the kept sum anyway, and keeps every element's keep bit (one bit per element, the
// bound above), so that the output pass reads the decisions instead of ranking again.

// dellaSlabLimit bounds the slab (row) length: a straddling slab is collected and ranked in
// memory, about 36 bytes per element (deltas, draws, keep masks, sort keys and scratch, rank
// thresholds: 36 MiB at the limit) besides its keep bits.
const dellaSlabLimit = 1 << 20

// dellaPruner prunes one model's task vector.
type dellaPruner struct {
	none   bool // density 0: mergekit returns zeros
	slab   int  // L: elements per slab (product of the dimensions after the first)
	stride int  // S: distance between consecutive elements of a group (product after the second)
	group  int  // B = L/S: elements per group, the ranks 0..B-1
	numel  int
	st     stream
	thr    []uint64 // keep threshold by rank (probThreshold of the probability), built on first use
	dens   float64
	eps    float64
	dt     tensor.DType
	sorter torchSorter
	keys   []uint64
	tmp    []uint64
	kvs    []kv
	// the block's deltas, draws and keep masks
	d    []float32
	u    []uint32
	keep []uint32
	// the straddling slab being collected in the statistics pass: its deltas and draws from
	// its first element on, and the keep bits of completed straddling slabs by slab index
	cur     []float32
	curU    []uint32
	curKeep []uint32
	saved   map[int][]uint64
	// every element's keep bit, when the statistics pass ranked every slab (its L1 sums);
	// held in the worker's arena under the model's index
	all   []uint64
	arena *arena
	id    int
}

// newDellaPruner validates DELLA's parameters for a tensor and builds the pruner for a model
// with density d < 1 (0 < d); for d <= 0 the pruner drops everything.
func newDellaPruner(t TensorInfo, model int, d, eps float64) (*dellaPruner, error) {
	// mergekit prunes in the tensor's dtype only for bf16 on the CPU; float16 is pruned in
	// float32.
	dt := tensor.F32
	if t.Compute == tensor.BF16 {
		dt = tensor.BF16
	}
	p := &dellaPruner{numel: t.Numel, dens: d, eps: eps, dt: dt, st: newStream(t.Seed, t.Name, uint64(model)), arena: t.arena, id: model}
	if d <= 0 {
		p.none = true
		return p, nil
	}
	if d+eps >= 1 || d-eps <= 0 {
		return nil, fmt.Errorf("epsilon %g with density %g: density - epsilon and density + epsilon must lie in (0, 1), as mergekit requires", eps, d)
	}
	if len(t.Shape) == 0 {
		return nil, fmt.Errorf("the tensor is a scalar: DELLA ranks along dimension 1 (mergekit fails on it too)")
	}
	shape := t.Shape
	if len(shape) == 1 {
		shape = []int{1, shape[0]}
	}
	p.group, p.stride = shape[1], 1
	for _, s := range shape[2:] {
		p.stride *= s
	}
	p.slab = p.group * p.stride
	if t.Numel == 0 {
		return p, nil
	}
	if p.group == 1 {
		return nil, fmt.Errorf("the tensor's shape %v has 1 element along dimension 1: DELLA's rank normalisation divides by zero there (mergekit fails with a NaN probability)", t.Shape)
	}
	if p.slab > dellaSlabLimit {
		return nil, fmt.Errorf("the tensor's shape %v: DELLA ranks the %d elements after dimension 0 together in memory, at most %d", t.Shape, p.slab, dellaSlabLimit)
	}
	return p, nil
}

// dellaProb is the keep probability of the element at rank pos (0-based, ascending) of a
// group of b elements, computed as mergekit's torch code computes it in the working dtype dt
// (float32, or bf16 rounding after every operation): ranks r = pos + 1 from 1 to b,
// (r - min) / (max - min) clamped to [0, 1], then (density - epsilon) + that * 2 * epsilon.
// The explicit conversions keep every operation rounded on its own (no fused multiply-add).
func dellaProb(pos, b int, dens, eps float64, dt tensor.DType) float32 {
	r := func(x float32) float32 { return RoundTo(dt, x) }
	rank := r(r(float32(pos)) + 1)
	lo := r(r(0) + 1)
	hi := r(r(float32(b-1)) + 1)
	norm := r(float32(r(rank-lo)) / float32(r(hi-lo)))
	norm = min(max(norm, 0), 1)
	// torch (1.13, the reference corpus's) casts a Python scalar operand to the tensor's dtype
	// first, so in bf16 epsilon and density - epsilon are rounded before they are used.
	spread := r(float32(r(float32(norm*2)) * r(float32(eps))))
	return r(float32(r(float32(dens-eps)) + spread))
}

// thresholds builds the keep threshold of every rank.
func (p *dellaPruner) thresholds() []uint64 {
	if p.thr == nil {
		p.thr = make([]uint64, p.group)
		for pos := range p.thr {
			p.thr[pos] = probThreshold(float64(dellaProb(pos, p.group, p.dens, p.eps, p.dt)))
		}
	}
	return p.thr
}

// straddles says some slab crosses a block boundary (the statistics pass must rank it).
func (p *dellaPruner) straddles() bool {
	return !p.none && p.numel > blockElems && blockElems%p.slab != 0
}

// rankSlab sets keep[i] (all ones or zero) for each element i of one slab, from its deltas d
// and draws u: the element at rank pos of its group (ascending magnitude, as torch sorts) is
// kept when its draw is below that rank's threshold.
//
// Zero deltas rank first (no magnitude is smaller) and are dropped whatever their rank: a zero
// delta contributes nothing whether kept or not, nor counts in TIES's sign election. The
// others are sorted as integers, (magnitude bits << 32 | index) (radixSort), several times
// faster than torch's introsort, which gives the same ranks wherever magnitudes differ. Among
// equal magnitudes at ranks [p, q], torch's order matters only to an element whose draw lies
// between the thresholds of p and q (they rise with the rank): then, rarely, the group is
// ranked again with torch's exact algorithm (torchsort.go).
func (p *dellaPruner) rankSlab(d []float32, u, keep []uint32) {
	thr := p.thresholds()
	s, b := p.stride, p.group
	if cap(p.keys) < b {
		p.keys = make([]uint64, b)
	}
	for g := 0; g < s; g++ {
		keys := p.keys[:b]
		nz := 0
		for t := range b {
			i := g + t*s
			k := magKey(d[i])
			keep[i] = 0
			keys[nz] = uint64(k)<<32 | uint64(t)
			nz += int(b2i(k != 0))
		}
		keys = keys[:nz]
		p.tmp = radixSort(keys, p.tmp)
		zeros := b - nz
		ambiguous := false
		for j := 0; j < nz; {
			k := keys[j] >> 32
			e := j + 1
			for e < nz && keys[e]>>32 == k {
				e++
			}
			lo, hi := thr[zeros+j], thr[zeros+e-1]
			for pos := j; pos < e; pos++ {
				i := g + int(uint32(keys[pos]))*s
				v := uint64(u[i])
				keep[i] = -uint32(b2i(v < thr[zeros+pos]))
				ambiguous = ambiguous || (e-j > 1 && v >= lo && v < hi)
			}
			j = e
		}
		if ambiguous {
			p.rankTorch(d, g, u, keep)
		}
	}
}

// radixSort sorts keys (a value below 2^31 in the high 32 bits, an index in the low 32) by
// their high halves, stably, with one LSD pass per byte of the value (skipping bytes all keys
// share); tmp is scratch of at least len(keys), returned for reuse. Small inputs use
// slices.Sort, which gives the same order since the indices differ.
func radixSort(keys, tmp []uint64) []uint64 {
	n := len(keys)
	if n < 256 {
		slices.Sort(keys)
		return tmp
	}
	if cap(tmp) < n {
		tmp = make([]uint64, n)
	}
	tmp = tmp[:n]
	var count [4][256]int
	for _, k := range keys {
		count[0][byte(k>>32)]++
		count[1][byte(k>>40)]++
		count[2][byte(k>>48)]++
		count[3][byte(k>>56)]++
	}
	src, dst := keys, tmp
	for d := range 4 {
		c := &count[d]
		shift := 32 + 8*uint(d)
		if c[byte(src[0]>>shift)] == n {
			continue // every key has this byte
		}
		sum := 0
		for b := range c {
			c[b], sum = sum, sum+c[b]
		}
		for _, k := range src {
			b := byte(k >> shift)
			dst[c[b]] = k
			c[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
	return tmp
}

// rankTorch ranks group g of a slab with torch's sort (equal magnitudes in its order).
func (p *dellaPruner) rankTorch(d []float32, g int, u, keep []uint32) {
	thr := p.thresholds()
	s, b := p.stride, p.group
	if cap(p.kvs) < b {
		p.kvs = make([]kv, b)
	}
	a := p.kvs[:b]
	for t := range a {
		a[t] = kv{v: math.Float32frombits(magKey(d[g+t*s])), i: int32(t)}
	}
	p.sorter.introsort(a)
	for pos, e := range a {
		i := g + int(e.i)*s
		keep[i] = -uint32(b2i(uint64(u[i]) < thr[pos] && e.v != 0))
	}
}

// load computes the block's deltas x - base and its draws.
func (p *dellaPruner) load(x, base []float32, off int) {
	n := len(x)
	if p.d == nil {
		p.d, p.u, p.keep = make([]float32, blockElems), make([]uint32, blockElems), make([]uint32, blockElems)
	}
	d := p.d[:n]
	for j, bv := range base {
		d[j] = x[j] - bv
	}
	p.st.fill(p.u[:n], off)
}

// scan is the statistics pass over one block: it collects and ranks the straddling slabs and,
// with sums, returns sum |d| over the block and over the elements kept (the kept elements of
// the slabs whose keep decisions are known by the end of this block).
func (p *dellaPruner) scan(x, base []float32, off int, sums bool) (all, kept float64) {
	if p.none {
		return 0, 0
	}
	p.load(x, base, off)
	n := len(x)
	d, u := p.d[:n], p.u[:n]
	if sums {
		for _, v := range d {
			all += math.Abs(float64(v))
		}
		if p.all == nil {
			p.all = take[uint64](p.arena, "della.keep", p.id, (p.numel+63)/64)
		}
	}
	end := off + n
	for s := off / p.slab; s*p.slab < end; s++ {
		lo, hi := s*p.slab, (s+1)*p.slab
		if lo >= off && hi <= end {
			if sums {
				keep := p.keep[lo-off : hi-off]
				p.rankSlab(d[lo-off:hi-off], u[lo-off:hi-off], keep)
				for j, v := range d[lo-off : hi-off] {
					kept += math.Float64frombits(math.Float64bits(math.Abs(float64(v))) & (uint64(keep[j]) | uint64(keep[j])<<32))
				}
				p.setBits(lo, keep)
			}
			continue
		}
		// A straddling slab: collect the part in this block.
		a, b := max(lo, off), min(hi, end)
		if a == lo {
			p.cur, p.curU = p.cur[:0], p.curU[:0]
		}
		p.cur = append(p.cur, d[a-off:b-off]...)
		p.curU = append(p.curU, u[a-off:b-off]...)
		if b < hi {
			continue
		}
		if cap(p.curKeep) < p.slab {
			p.curKeep = make([]uint32, p.slab)
		}
		keep := p.curKeep[:p.slab]
		p.rankSlab(p.cur, p.curU, keep)
		if sums {
			for j, k := range keep {
				if k != 0 {
					kept += math.Abs(float64(p.cur[j]))
				}
			}
			p.setBits(lo, keep)
			continue
		}
		bits := make([]uint64, (p.slab+63)/64)
		for j, k := range keep {
			bits[j>>6] |= uint64(k&1) << (j & 63)
			if sums && k != 0 {
				kept += math.Abs(float64(p.cur[j]))
			}
		}
		if p.saved == nil {
			p.saved = map[int][]uint64{}
		}
		p.saved[s] = bits
	}
	return all, kept
}

// setBits records the keep masks of the elements from off on in p.all.
func (p *dellaPruner) setBits(off int, keep []uint32) {
	j := 0
	for ; j < len(keep) && (off+j)&63 != 0; j++ {
		e := off + j
		p.all[e>>6] |= uint64(keep[j]&1) << (e & 63)
	}
	for ; j+64 <= len(keep); j += 64 {
		p.all[(off+j)>>6] |= packMasks((*[64]uint32)(keep[j:]))
	}
	for ; j < len(keep); j++ {
		e := off + j
		p.all[e>>6] |= uint64(keep[j]&1) << (e & 63)
	}
}

// packMasks returns bit b set where m[b] (all ones or zero) is set: a word's bits at a time,
// without a read and write of the word per element.
func packMasks(m *[64]uint32) uint64 {
	var w uint64
	for b := 0; b < 64; b += 8 {
		w |= uint64(m[b]&1)<<b | uint64(m[b+1]&1)<<(b+1) | uint64(m[b+2]&1)<<(b+2) | uint64(m[b+3]&1)<<(b+3) |
			uint64(m[b+4]&1)<<(b+4) | uint64(m[b+5]&1)<<(b+5) | uint64(m[b+6]&1)<<(b+6) | uint64(m[b+7]&1)<<(b+7)
	}
	return w
}

// endScan drops the collection buffers.
func (p *dellaPruner) endScan() { p.cur, p.curU, p.curKeep = nil, nil, nil }

// masks returns the keep masks (all ones or zero) of one block in the output pass.
func (p *dellaPruner) masks(x, base []float32, off int) []uint32 {
	n := len(x)
	if p.none {
		if p.keep == nil {
			p.keep = make([]uint32, blockElems)
		}
		clear(p.keep[:n])
		return p.keep[:n]
	}
	if p.all != nil { // every decision was made in the statistics pass
		if p.keep == nil {
			p.keep = make([]uint32, blockElems)
		}
		keep := p.keep[:n]
		j := 0
		for ; j < n && (off+j)&63 != 0; j++ {
			e := off + j
			keep[j] = -uint32(p.all[e>>6] >> (e & 63) & 1)
		}
		for ; j+64 <= n; j += 64 {
			w, k := p.all[(off+j)>>6], (*[64]uint32)(keep[j:])
			for b := range k {
				k[b] = -uint32(w >> b & 1)
			}
		}
		for ; j < n; j++ {
			e := off + j
			keep[j] = -uint32(p.all[e>>6] >> (e & 63) & 1)
		}
		return keep
	}
	p.load(x, base, off)
	d, u, keep := p.d[:n], p.u[:n], p.keep[:n]
	end := off + n
	for s := off / p.slab; s*p.slab < end; s++ {
		lo, hi := s*p.slab, (s+1)*p.slab
		if lo >= off && hi <= end {
			p.rankSlab(d[lo-off:hi-off], u[lo-off:hi-off], keep[lo-off:hi-off])
			continue
		}
		bits := p.saved[s]
		a, b := max(lo, off), min(hi, end)
		for e := a; e < b; e++ {
			j := e - lo
			keep[e-off] = -uint32(bits[j>>6] >> (j & 63) & 1)
		}
		if b == hi {
			delete(p.saved, s) // written: its bits are no longer needed
		}
	}
	return keep
}
