package sft

import (
	"fmt"
	"slices"
	"sort"
	"testing"
)

func testIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("id-%03d", i)
	}
	return ids
}

func mustOrder(t *testing.T, ids []string, mode OrderMode, seed uint64, batch, epoch int) []int {
	t.Helper()
	o, err := EpochOrder(ids, mode, seed, batch, epoch)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func isPerm(o []int, n int) bool {
	s := append([]int(nil), o...)
	sort.Ints(s)
	for i, v := range s {
		if v != i {
			return false
		}
	}
	return len(s) == n
}

func TestOrderModes(t *testing.T) {
	ids := testIDs(23)
	const batch = 5
	first := mustOrder(t, ids, OrderReshuffle, 7, batch, 0)
	for _, mode := range OrderModes() {
		for e := 0; e < 4; e++ {
			o := mustOrder(t, ids, mode, 7, batch, e)
			if !isPerm(o, len(ids)) {
				t.Fatalf("%s epoch %d: not a permutation: %v", mode, e, o)
			}
			if e == 0 && !slices.Equal(o, first) {
				t.Errorf("%s: first epoch differs from reshuffle's for the same seed", mode)
			}
		}
	}
	// reshuffle: a new order every epoch.
	if slices.Equal(mustOrder(t, ids, OrderReshuffle, 7, batch, 1), first) {
		t.Error("reshuffle repeated the first epoch's order")
	}
	// fixed: the same order every epoch.
	for e := 1; e < 4; e++ {
		if !slices.Equal(mustOrder(t, ids, OrderFixed, 7, batch, e), first) {
			t.Errorf("fixed: epoch %d differs", e)
		}
	}
	// batch-shuffle: the same batches (as sets, the last one short), in a new sequence.
	batchesOf := func(o []int) []string {
		var out []string
		for lo := 0; lo < len(o); lo += batch {
			b := append([]int(nil), o[lo:min(lo+batch, len(o))]...)
			sort.Ints(b)
			out = append(out, fmt.Sprint(b))
		}
		return out
	}
	want := batchesOf(first)
	sortedWant := append([]string(nil), want...)
	sort.Strings(sortedWant)
	changed := false
	for e := 1; e < 4; e++ {
		o := mustOrder(t, ids, OrderBatchShuffle, 7, batch, e)
		// Within a batch the order is kept; batch boundaries may move when the short batch
		// moves, so compare batches cut at the original sizes in their new sequence.
		got := batchesFromSeq(o, first, batch)
		gs := append([]string(nil), got...)
		sort.Strings(gs)
		if !slices.Equal(gs, sortedWant) {
			t.Fatalf("batch-shuffle epoch %d: batch contents changed", e)
		}
		if !slices.Equal(got, want) {
			changed = true
		}
	}
	if !changed {
		t.Error("batch-shuffle never changed the batch sequence")
	}
}

// batchesFromSeq cuts o into the batches of first (which sample belongs to which batch is
// known from first), returning each batch's sorted members in o's sequence.
func batchesFromSeq(o, first []int, batch int) []string {
	batchOf := map[int]int{}
	for p, c := range first {
		batchOf[c] = p / batch
	}
	var out []string
	for i := 0; i < len(o); {
		b := batchOf[o[i]]
		var members []int
		for i < len(o) && batchOf[o[i]] == b {
			members = append(members, o[i])
			i++
		}
		sort.Ints(members)
		out = append(out, fmt.Sprint(members))
	}
	return out
}

func TestOrderDependsOnlyOnSeedModeIDsBatch(t *testing.T) {
	ids := testIDs(30)
	a := mustOrder(t, ids, OrderReshuffle, 1, 4, 2)
	if !slices.Equal(a, mustOrder(t, ids, OrderReshuffle, 1, 4, 2)) {
		t.Fatal("same inputs, different order")
	}
	if slices.Equal(a, mustOrder(t, ids, OrderReshuffle, 2, 4, 2)) {
		t.Error("different order seeds gave the same order")
	}
	// The same ids given in another order: the same sequence of ids.
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	b := mustOrder(t, rev, OrderReshuffle, 1, 4, 2)
	for i := range a {
		if ids[a[i]] != rev[b[i]] {
			t.Fatalf("position %d: %s vs %s: order depends on the input order", i, ids[a[i]], rev[b[i]])
		}
	}
	if _, err := EpochOrder([]string{"a", "b", "a"}, OrderFixed, 0, 2, 0); err == nil {
		t.Error("duplicate ids accepted")
	}
	if _, err := EpochOrder(ids, "sorted", 0, 2, 0); err == nil {
		t.Error("unknown mode accepted")
	}
}
