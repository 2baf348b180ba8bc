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

// mergeTable maps a pair of ids to its merge: an open-addressing hash table with linear
// probing, about three times faster than a Go map on this path (every merge step looks pairs
// up).
type mergeTable struct {
	keys  []uint64 // pair key + 1; 0 marks an empty slot
	vals  []merge
	shift uint
	n     int
}

func newMergeTable(capacity int) *mergeTable {
	bits := uint(4)
	for (1 << bits) < 2*capacity {
		bits++
	}
	return &mergeTable{keys: make([]uint64, 1<<bits), vals: make([]merge, 1<<bits), shift: 64 - bits}
}

// mergeKey packs a pair of ids into a key.
func mergeKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (t *mergeTable) slot(k uint64) int { return int((k * 0x9E3779B97F4A7C15) >> t.shift) }

// put sets the merge of a pair; a pair set twice keeps the last value.
func (t *mergeTable) put(a, b int32, m merge) {
	k := mergeKey(a, b) + 1
	mask := len(t.keys) - 1
	for i := t.slot(k); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case 0:
			t.keys[i], t.vals[i] = k, m
			t.n++
			return
		case k:
			t.vals[i] = m
			return
		}
	}
}

func (t *mergeTable) get(a, b int32) (merge, bool) {
	k := mergeKey(a, b) + 1
	mask := len(t.keys) - 1
	for i := t.slot(k); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case k:
			return t.vals[i], true
		case 0:
			return merge{}, false
		}
	}
}

// scanLimit is the row length up to which merging rescans instead of using the heap.
const scanLimit = 48

// mergeRow merges syms in place and returns the merged row (a prefix of syms).
func mergeRow(merges *mergeTable, syms []int32) []int32 {
	if len(syms) <= scanLimit {
		return mergeByScan(merges, syms)
	}
	return mergeByHeap(merges, syms)
}

func mergeByScan(merges *mergeTable, syms []int32) []int32 {
	for len(syms) > 1 {
		best, at := merge{}, -1
		for k := 0; k+1 < len(syms); k++ {
			m, ok := merges.get(syms[k], syms[k+1])
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

// The heap holds one uint64 per candidate pair: rank<<32 | position of the left symbol, so that
// popping the minimum gives the lowest rank, leftmost first. An entry goes stale when the pair
// at its position changes; rather than carry the pair in the entry, a popped entry is checked
// against the table: the pair now at its position must merge with the same rank (ranks are
// unique to a pair, so the same rank means the same merge). Eight-byte entries in a 4-ary heap
// keep the heap shallow and its children in one cache line.
type pairHeap []uint64

func (h *pairHeap) push(k uint64) {
	*h = append(*h, k)
	q := *h
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 4
		if k >= q[p] {
			break
		}
		q[i] = q[p]
		i = p
	}
	q[i] = k
}

func (h *pairHeap) pop() uint64 {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	siftDown(q, 0)
	*h = q
	return top
}

func siftDown(q pairHeap, i int) {
	if len(q) == 0 {
		return
	}
	k := q[i]
	for {
		c := 4*i + 1
		if c >= len(q) {
			break
		}
		m := c
		for j := c + 1; j < c+4 && j < len(q); j++ {
			if q[j] < q[m] {
				m = j
			}
		}
		if q[m] >= k {
			break
		}
		q[i] = q[m]
		i = m
	}
	q[i] = k
}

func mergeByHeap(merges *mergeTable, syms []int32) []int32 {
	n := len(syms)
	next := make([]int32, n) // -1: last
	prev := make([]int32, n) // -1: first
	h := make(pairHeap, 0, n)
	for i := range syms {
		next[i], prev[i] = int32(i+1), int32(i-1)
		if i+1 < n {
			if m, ok := merges.get(syms[i], syms[i+1]); ok {
				h = append(h, uint64(m.rank)<<32|uint64(i))
			}
		}
	}
	next[n-1] = -1
	for i := (len(h) - 2) / 4; i >= 0; i-- {
		siftDown(h, i)
	}
	for len(h) > 0 {
		k := h.pop()
		p, rank := int32(uint32(k)), int32(k>>32)
		q := next[p]
		if q < 0 || prev[p] == -2 {
			continue // p was absorbed by its left neighbour, or has no right one any more
		}
		m, ok := merges.get(syms[p], syms[q])
		if !ok || m.rank != rank {
			continue // stale: the pair at p is not the one this entry was pushed for
		}
		syms[p] = m.id
		next[p] = next[q]
		if next[q] >= 0 {
			prev[next[q]] = p
		}
		prev[q] = -2
		if l := prev[p]; l >= 0 {
			if m, ok := merges.get(syms[l], syms[p]); ok {
				h.push(uint64(m.rank)<<32 | uint64(l))
			}
		}
		if r := next[p]; r >= 0 {
			if m, ok := merges.get(syms[p], syms[r]); ok {
				h.push(uint64(m.rank)<<32 | uint64(p))
			}
		}
	}
	out := syms[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, syms[i])
	}
	return out
}
