package tokenizer

// The BPE model turns one pre-tokenized piece into ids: the piece becomes a row of symbols
// (bytes in the byte alphabet, or characters, with byte fallback or unk for characters the
// vocabulary lacks), then adjacent pairs are merged, lowest merge rank first and leftmost among
// equal ranks, until no listed merge applies.
//
// Short pieces (what byte-level pre-tokenizers produce) are merged by rescanning the row, which
// is fastest when it holds a handful of symbols. Long rows (a SentencePiece-style file with no
// pre-tokenizer sees a whole paragraph as one piece; a run of 50,000 "a" is one piece anywhere)
// go through a binary heap of candidate pairs and a linked list of symbols, O(n log n), as
// Hugging Face's Word::merge_all does. Both orders give the same result: the heap always holds
// exactly the mergeable adjacent pairs, keyed by (rank, position of the left symbol), so popping
// its minimum is the leftmost lowest-ranked pair the rescan would find.

type merge struct {
	rank int32
	id   int32
}

// mergeKey packs a pair of ids into a map key.
func mergeKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// scanLimit is the row length up to which merging rescans instead of using the heap.
const scanLimit = 48

// mergeRow merges syms in place and returns the merged row (a prefix of syms).
func mergeRow(merges map[uint64]merge, syms []int32) []int32 {
	if len(syms) <= scanLimit {
		return mergeByScan(merges, syms)
	}
	return mergeByHeap(merges, syms)
}

func mergeByScan(merges map[uint64]merge, syms []int32) []int32 {
	for len(syms) > 1 {
		best, at := merge{}, -1
		for k := 0; k+1 < len(syms); k++ {
			m, ok := merges[mergeKey(syms[k], syms[k+1])]
			if ok && (at < 0 || m.rank < best.rank) {
				best, at = m, k
			}
		}
		if at < 0 {
			break
		}
		syms[at] = best.id
		syms = append(syms[:at+1], syms[at+2:]...)
	}
	return syms
}

// candidate is a mergeable pair in the heap: the left symbol's position, the rank and the id
// the pair merges into.
type candidate struct {
	rank, pos, id int32
}

func (a candidate) less(b candidate) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos)
}

// pairHeap is a binary min-heap of candidates (container/heap's interface costs an indirect
// call per comparison, which dominates on long rows).
type pairHeap []candidate

func (h *pairHeap) push(c candidate) {
	*h = append(*h, c)
	q := *h
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q[i].less(q[p]) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *pairHeap) pop() candidate {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	siftDown(q, 0)
	*h = q
	return top
}

func mergeByHeap(merges map[uint64]merge, syms []int32) []int32 {
	n := len(syms)
	next := make([]int32, n) // -1: last
	prev := make([]int32, n) // -1: first
	alive := make([]bool, n)
	h := make(pairHeap, 0, n)
	for i := range syms {
		next[i], prev[i], alive[i] = int32(i+1), int32(i-1), true
		if i+1 < n {
			if m, ok := merges[mergeKey(syms[i], syms[i+1])]; ok {
				h = append(h, candidate{m.rank, int32(i), m.id})
			}
		}
	}
	next[n-1] = -1
	// Heapify bottom-up.
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	for len(h) > 0 {
		c := h.pop()
		p := c.pos
		if !alive[p] || next[p] < 0 {
			continue
		}
		q := next[p]
		// A stale entry: the pair at p has changed since it was pushed.
		if m, ok := merges[mergeKey(syms[p], syms[q])]; !ok || m.id != c.id {
			continue
		}
		syms[p] = c.id
		alive[q] = false
		next[p] = next[q]
		if next[q] >= 0 {
			prev[next[q]] = p
		}
		if l := prev[p]; l >= 0 {
			if m, ok := merges[mergeKey(syms[l], syms[p])]; ok {
				h.push(candidate{m.rank, l, m.id})
			}
		}
		if r := next[p]; r >= 0 {
			if m, ok := merges[mergeKey(syms[p], syms[r])]; ok {
				h.push(candidate{m.rank, p, m.id})
			}
		}
	}
	out := syms[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, syms[i])
	}
	return out
}

func siftDown(q pairHeap, i int) {
	for {
		l := 2*i + 1
		if l >= len(q) {
			return
		}
		m := l
		if r := l + 1; r < len(q) && q[r].less(q[l]) {
			m = r
		}
		if !q[m].less(q[i]) {
			return
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
}
