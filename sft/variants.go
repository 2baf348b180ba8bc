package sft

import (
	"context"
	"errors"
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/tensor"
)

// VariantSeeds returns k order seeds first, first+1, ..., first+k-1: the usual way to name K
// variants (seeds are mixed before use, so consecutive seeds give unrelated orders).
func VariantSeeds(k int, first uint64) []uint64 {
	out := make([]uint64, max(k, 0))
	for i := range out {
		out[i] = first + uint64(i)
	}
	return out
}

// VariantDir is the folder of variant i under dir: dir/variant-i (i counts from 0).
func VariantDir(dir string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("variant-%d", i))
}

// TrainVariants trains one variant per order seed, each from its own clone of base, with
// everything else equal (config, data, initial parameters): the K sub-models of the paper.
// They run one after another, since one training already uses every core. base is not
// modified.
//
// With outDir set, variant i is checkpointed in VariantDir(outDir, i) (periodically when
// cfg.CheckpointEvery is set, on cancellation and at the end), and a variant whose folder
// already holds a checkpoint of this run is resumed from it (finished ones are just loaded),
// so an interrupted TrainVariants continues where it stopped when called again.
//
// On error or cancellation it returns the results so far (the interrupted variant's partial
// result last) with the error.
func TrainVariants(ctx context.Context, base compute.Model, examples []data.Example, cfg Config, orderSeeds []uint64, outDir string) ([]*Result, error) {
	if isNilModel(base) {
		return nil, fmt.Errorf("no base model to train variants of")
	}
	if len(orderSeeds) == 0 {
		return nil, fmt.Errorf("no order seeds: nothing to train")
	}
	seen := map[uint64]bool{}
	for _, s := range orderSeeds {
		if seen[s] {
			return nil, fmt.Errorf("order seed %d is given twice (its variants would be identical)", s)
		}
		seen[s] = true
	}
	var out []*Result
	for i, seed := range orderSeeds {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("variant %d: %w", i, err)
		}
		model, err := base.Clone()
		if err != nil {
			return out, fmt.Errorf("variant %d: cloning the base model: %w", i, err)
		}
		c := cfg
		c.OrderSeed = seed
		c.CheckpointLock = nil // a lock of outDir, not of the variant's folder
		var t *Trainer
		if outDir != "" {
			c.CheckpointDir = VariantDir(outDir, i)
			// Locked before the folder is looked at: taking the lock puts back a checkpoint
			// that a killed replacement had set aside, which is then resumed, not redone.
			lock, err := tensor.LockFolder(c.CheckpointDir)
			if err != nil {
				return out, fmt.Errorf("variant %d: %w", i, err)
			}
			c.CheckpointLock = lock
			if _, err := os.Stat(filepath.Join(c.CheckpointDir, TrainerStateFile)); err == nil {
				t, err = Resume(c.CheckpointDir, model, examples, c)
				if err != nil {
					lock.Unlock()
					return out, fmt.Errorf("variant %d: %w", i, err)
				}
			} else if !errors.Is(err, fs.ErrNotExist) {
				lock.Unlock()
				return out, fmt.Errorf("variant %d: %w", i, err)
			}
		}
		if t == nil {
			t, err = NewTrainer(model, examples, c)
			if err != nil {
				c.CheckpointLock.Unlock()
				return out, fmt.Errorf("variant %d: %w", i, err)
			}
		}
		t.variant, t.variants = i, len(orderSeeds)
		res, err := t.Run(ctx)
		c.CheckpointLock.Unlock()
		if res != nil {
			out = append(out, res)
		}
		if err != nil {
			return out, fmt.Errorf("variant %d (order seed %d): %w", i, seed, err)
		}
	}
	return out, nil
}
