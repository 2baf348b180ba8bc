package merge

// mergekit picks TIES's top-k (and breadcrumbs' cuts) with torch.argsort / torch.sort, which
// on the CPU sort (value, index) pairs with libstdc++'s std::sort: an introsort, not stable.
// Where equal magnitudes straddle a cut, which of them fall inside depends on that exact
// algorithm, so torchSorter is the same algorithm step for step (median-of-three pivot moved
// to the front, unguarded Hoare partition, depth limit 2*floor(log2 n) then heap sort, a final
// insertion sort over runs of 16), with torch's comparator (descending: a > b; ascending:
// a < b; no NaN can occur in magnitudes). Checked against torch 1.13's argsort.

// torchSorter sorts like torch.sort(values, descending) on the CPU.
type torchSorter struct{ desc bool }

func (s *torchSorter) less(a, b kv) bool {
	if s.desc {
		return a.v > b.v
	}
	return a.v < b.v
}

// torchOrder returns the indices of vals in the order torch.sort puts them.
func torchOrder(vals []float32, desc bool) []int32 {
	a := pairs(make([]kv, len(vals)), vals)
	s := &torchSorter{desc: desc}
	s.introsort(a)
	return indices(a)
}

// pairs fills a (at least len(vals) long) with the values and their indices, for the sort.
func pairs(a []kv, vals []float32) []kv {
	a = a[:len(vals)]
	for i, v := range vals {
		a[i] = kv{v: v, i: int32(i)}
	}
	return a
}

// indices returns the indices of sorted pairs, in their order.
func indices(a []kv) []int32 {
	out := make([]int32, len(a))
	for p, x := range a {
		out[p] = x.i
	}
	return out
}

// torchOrderIn is torchOrder for the positions [lo, hi) of the sorted order only: the sort
// skips every partition that holds none of them, as a quickselect would. A partition's
// elements never leave it, and the final insertion sort moves elements only within the
// partitions of at most 16 that the introsort leaves (an element never passes a smaller or
// equal one, and every element before a partition is smaller or equal), so the positions in
// [lo, hi) come out exactly as the whole sort puts them; the others hold the right elements
// for their partition, in no particular order. Expected time O(n) instead of O(n log n).
func torchOrderIn(vals []float32, desc bool, lo, hi int) []int32 {
	return indices(torchPairsIn(make([]kv, len(vals)), vals, desc, lo, hi))
}

// torchPairsIn is torchOrderIn's sort, into a (len(vals) pairs, overwritten): the positions
// [lo, hi) of the result hold those of the sorted order, as key and index.
func torchPairsIn(a []kv, vals []float32, desc bool, lo, hi int) []kv {
	a = pairs(a, vals)
	if len(a) >= 2 && lo < hi {
		s := &torchSorter{desc: desc}
		s.introLoopIn(a, 0, len(a), 2*floorLog2(len(a)), lo, hi)
	}
	return a
}

// introLoopIn is introLoop over the partitions that intersect [lo, hi), each leaf partition
// insertion-sorted as finalInsertion would sort it.
func (s *torchSorter) introLoopIn(a []kv, first, last, depth, lo, hi int) {
	for last-first > 16 {
		if depth == 0 {
			s.heapSort(a[first:last])
			return
		}
		depth--
		cut := s.partitionPivot(a, first, last)
		if cut < hi && last > lo {
			s.introLoopIn(a, cut, last, depth, lo, hi)
		}
		last = cut
		if !(first < hi && last > lo) {
			return
		}
	}
	s.insertion(a, first, last)
}

// kv is one element for the sort: its key and its index.
type kv struct {
	v float32
	i int32
}

func floorLog2(n int) int {
	r := 0
	for n > 1 {
		n >>= 1
		r++
	}
	return r
}

func (s *torchSorter) introsort(a []kv) {
	if len(a) < 2 {
		return
	}
	s.introLoop(a, 0, len(a), 2*floorLog2(len(a)))
	s.finalInsertion(a, 0, len(a))
}

func (s *torchSorter) introLoop(a []kv, first, last, depth int) {
	for last-first > 16 {
		if depth == 0 {
			s.heapSort(a[first:last])
			return
		}
		depth--
		cut := s.partitionPivot(a, first, last)
		s.introLoop(a, cut, last, depth)
		last = cut
	}
}

func (s *torchSorter) moveMedianToFirst(a []kv, result, x, y, z int) {
	if s.less(a[x], a[y]) {
		if s.less(a[y], a[z]) {
			a[result], a[y] = a[y], a[result]
		} else if s.less(a[x], a[z]) {
			a[result], a[z] = a[z], a[result]
		} else {
			a[result], a[x] = a[x], a[result]
		}
	} else if s.less(a[x], a[z]) {
		a[result], a[x] = a[x], a[result]
	} else if s.less(a[y], a[z]) {
		a[result], a[z] = a[z], a[result]
	} else {
		a[result], a[y] = a[y], a[result]
	}
}

func (s *torchSorter) partitionPivot(a []kv, first, last int) int {
	mid := first + (last-first)/2
	s.moveMedianToFirst(a, first, first+1, mid, last-1)
	return s.unguardedPartition(a, first+1, last, first)
}

func (s *torchSorter) unguardedPartition(a []kv, first, last, pivot int) int {
	for {
		for s.less(a[first], a[pivot]) {
			first++
		}
		last--
		for s.less(a[pivot], a[last]) {
			last--
		}
		if !(first < last) {
			return first
		}
		a[first], a[last] = a[last], a[first]
		first++
	}
}

func (s *torchSorter) insertion(a []kv, first, last int) {
	if first == last {
		return
	}
	for i := first + 1; i < last; i++ {
		if s.less(a[i], a[first]) {
			v := a[i]
			copy(a[first+1:i+1], a[first:i])
			a[first] = v
		} else {
			s.unguardedLinearInsert(a, i)
		}
	}
}

func (s *torchSorter) unguardedLinearInsert(a []kv, last int) {
	v := a[last]
	next := last - 1
	for s.less(v, a[next]) {
		a[last] = a[next]
		last = next
		next--
	}
	a[last] = v
}

func (s *torchSorter) finalInsertion(a []kv, first, last int) {
	if last-first > 16 {
		s.insertion(a, first, first+16)
		for i := first + 16; i < last; i++ {
			s.unguardedLinearInsert(a, i)
		}
	} else {
		s.insertion(a, first, last)
	}
}

// heap sort as libstdc++'s make_heap + sort_heap
func (s *torchSorter) adjustHeap(a []kv, hole, length int, v kv) {
	top := hole
	child := hole
	for child < (length-1)/2 {
		child = 2 * (child + 1)
		if s.less(a[child], a[child-1]) {
			child--
		}
		a[hole] = a[child]
		hole = child
	}
	if length&1 == 0 && child == (length-2)/2 {
		child = 2 * (child + 1)
		a[hole] = a[child-1]
		hole = child - 1
	}
	// push_heap
	parent := (hole - 1) / 2
	for hole > top && s.less(a[parent], v) {
		a[hole] = a[parent]
		hole = parent
		parent = (hole - 1) / 2
	}
	a[hole] = v
}

func (s *torchSorter) heapSort(a []kv) {
	n := len(a)
	if n < 2 {
		return
	}
	for parent := (n - 2) / 2; ; parent-- {
		s.adjustHeap(a, parent, n, a[parent])
		if parent == 0 {
			break
		}
	}
	for last := n - 1; last > 0; last-- {
		v := a[last]
		a[last] = a[0]
		s.adjustHeap(a, 0, last, v)
	}
}
