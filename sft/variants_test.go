package sft

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestTrainVariantsDifferOnlyInOrder(t *testing.T) {
	exs := copyTask(12, testVocab, 9)
	base := newTiny(t, testVocab, 1)
	baseCopy, _ := base.Clone()
	dir := t.TempDir()
	cfg := smallConfig()
	var variantsSeen []int
	cfg.Progress = func(p Progress) {
		if p.Variants != 3 {
			t.Errorf("progress says %d variants", p.Variants)
		}
		variantsSeen = append(variantsSeen, p.Variant)
	}
	res, err := TrainVariants(context.Background(), base, exs, cfg, VariantSeeds(3, 10), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || !paramsEqual(base, baseCopy) {
		t.Fatalf("%d results; base modified: %v", len(res), !paramsEqual(base, baseCopy))
	}
	for i, r := range res {
		if r.Config.OrderSeed != uint64(10+i) || !r.Completed || r.Dir != VariantDir(dir, i) {
			t.Errorf("variant %d: seed %d completed %v dir %s", i, r.Config.OrderSeed, r.Completed, r.Dir)
		}
		// Each variant equals a plain Train with its order seed.
		c := smallConfig()
		c.OrderSeed = uint64(10 + i)
		single, err := Train(context.Background(), newTiny(t, testVocab, 1), exs, c)
		if err != nil {
			t.Fatal(err)
		}
		if !paramsEqual(single.Model, r.Model) {
			t.Errorf("variant %d differs from training with its seed alone", i)
		}
	}
	if paramsEqual(res[0].Model, res[1].Model) || res[0].Records[0].ID == res[1].Records[0].ID && res[0].Records[1].ID == res[1].Records[1].ID {
		t.Error("variants 0 and 1 trained in the same order")
	}
	if variantsSeen[0] != 0 || variantsSeen[len(variantsSeen)-1] != 2 {
		t.Errorf("progress variants %v", variantsSeen)
	}

	// Called again, every variant is found finished and loaded, not retrained.
	os.Remove(filepath.Join(VariantDir(dir, 1), RecordsCSVFile)) // finished variants are not rewritten
	again, err := TrainVariants(context.Background(), newTiny(t, testVocab, 1), exs, smallConfig(), VariantSeeds(3, 10), dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if !paramsEqual(again[i].Model, res[i].Model) || len(again[i].Final) != 12 {
			t.Errorf("variant %d reloaded differently", i)
		}
	}
	if _, err := os.Stat(filepath.Join(VariantDir(dir, 1), RecordsCSVFile)); !errors.Is(err, os.ErrNotExist) {
		t.Error("a finished variant was written again")
	}

	if _, err := TrainVariants(context.Background(), base, exs, cfg, []uint64{1, 1}, ""); err == nil {
		t.Error("duplicate order seeds accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	part, err := TrainVariants(ctx, base, exs, cfg, VariantSeeds(2, 0), "")
	if !errors.Is(err, context.Canceled) || len(part) != 0 {
		t.Errorf("cancelled: %d results, err %v", len(part), err)
	}
}

func TestNilModelIsAnError(t *testing.T) {
	var typedNil *TinyModel
	if _, err := TrainVariants(context.Background(), typedNil, nil, Config{}, []uint64{1}, ""); err == nil {
		t.Error("TrainVariants accepted a nil base")
	}
	if _, err := Train(context.Background(), nil, nil, Config{}); err == nil {
		t.Error("Train accepted a nil model")
	}
}
