package sft

import (
	"fmt"
	"sort"
)

// OrderMode says how the order of the training data changes from epoch to epoch.
type OrderMode string

// The order modes. In all three, the first epoch's order is the same permutation for the same
// order seed, so variants in different modes share their first-epoch positions and differ only
// in what happens afterwards.
const (
	// OrderReshuffle draws a new permutation for every epoch.
	OrderReshuffle OrderMode = "reshuffle"
	// OrderFixed repeats the first epoch's permutation in every epoch.
	OrderFixed OrderMode = "fixed"
	// OrderBatchShuffle cuts the first epoch's permutation into batches once and keeps their
	// contents, shuffling only the sequence of batches in later epochs (the paper's ablation:
	// it separates a sample's position from the company it keeps in its batch).
	OrderBatchShuffle OrderMode = "batch-shuffle"
)

// OrderModes lists the valid order modes.
func OrderModes() []OrderMode {
	return []OrderMode{OrderReshuffle, OrderFixed, OrderBatchShuffle}
}

// ParseOrderMode checks an order mode's name ("" means reshuffle).
func ParseOrderMode(s string) (OrderMode, error) {
	if s == "" {
		return OrderReshuffle, nil
	}
	for _, m := range OrderModes() {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown order mode %q (want reshuffle, fixed or batch-shuffle)", s)
}

// Purpose tags for DeriveSeed, so the streams of an order seed never overlap.
const (
	streamPermutation = 1
	streamBatchOrder  = 2
	streamStats       = 3 // the statistics' permutation test
)

// canonicalOrder returns the indices of ids sorted by id. Orders are permutations of this
// canonical order, so the same samples given in a different order train identically: a
// variant's order depends only on (order seed, mode, ids, batch size).
func canonicalOrder(ids []string) ([]int, error) {
	idx := make([]int, len(ids))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ids[idx[a]] < ids[idx[b]] })
	for k := 1; k < len(idx); k++ {
		if ids[idx[k]] == ids[idx[k-1]] {
			return nil, fmt.Errorf("sample id %q appears twice (ids name samples in the records; they must be unique)", ids[idx[k]])
		}
	}
	return idx, nil
}

// epochOrder returns the sequence in which epoch e visits the canonical positions 0..n-1.
func epochOrder(n, batchSize int, mode OrderMode, seed uint64, epoch int) []int {
	perm := func(e int) []int { return NewRNG(DeriveSeed(seed, streamPermutation, uint64(e))).Perm(n) }
	switch mode {
	case OrderFixed:
		return perm(0)
	case OrderBatchShuffle:
		base := perm(0)
		if epoch == 0 {
			return base
		}
		nb := (n + batchSize - 1) / batchSize
		seq := NewRNG(DeriveSeed(seed, streamBatchOrder, uint64(epoch))).Perm(nb)
		out := make([]int, 0, n)
		for _, b := range seq {
			lo, hi := b*batchSize, min((b+1)*batchSize, n)
			out = append(out, base[lo:hi]...)
		}
		return out
	default:
		return perm(epoch)
	}
}

// EpochOrder returns, for epoch (0-based), the indices into ids in the order the trainer visits
// them, for the given order mode, seed and batch size. It is what Train uses, exposed so a
// notebook can look at an order before (or without) training.
func EpochOrder(ids []string, mode OrderMode, seed uint64, batchSize, epoch int) ([]int, error) {
	if batchSize <= 0 {
		return nil, fmt.Errorf("batch size must be positive, got %d", batchSize)
	}
	if epoch < 0 {
		return nil, fmt.Errorf("epoch must be >= 0, got %d", epoch)
	}
	m, err := ParseOrderMode(string(mode))
	if err != nil {
		return nil, err
	}
	canon, err := canonicalOrder(ids)
	if err != nil {
		return nil, err
	}
	order := epochOrder(len(ids), batchSize, m, seed, epoch)
	out := make([]int, len(order))
	for i, c := range order {
		out[i] = canon[c]
	}
	return out, nil
}
