package sft

import (
	"math"
	"testing"
)

func TestLatestLossesAndDynamics(t *testing.T) {
	recs := []StepRecord{
		{Step: 1, Epoch: 0, Position: 0, ID: "b", Loss: 2},
		{Step: 1, Epoch: 0, Position: 1, ID: "a", Loss: 1},
		{Step: 2, Epoch: 1, Position: 0, ID: "a", Loss: 0.5},
	}
	ids, pos, loss := LatestLosses(recs)
	if len(ids) != 2 || ids[0] != "a" || pos[0] != 1 || loss[0] != 0.5 || pos[1] != 0 || loss[1] != 2 {
		t.Fatalf("latest %v %v %v", ids, pos, loss)
	}
	d, err := Dynamics(recs)
	if err != nil {
		t.Fatal(err)
	}
	// a: probabilities e^-1 and e^-0.5: mean and population standard deviation by hand.
	pa, pb := math.Exp(-1), math.Exp(-0.5)
	m := (pa + pb) / 2
	if d[0].ID != "a" || d[0].Visits != 2 || math.Abs(d[0].Confidence-m) > 1e-12 || math.Abs(d[0].Variability-math.Abs(pa-pb)/2) > 1e-12 {
		t.Errorf("a: %+v", d[0])
	}
	if d[1].ID != "b" || d[1].Visits != 1 || d[1].Variability != 0 || d[1].FirstPosition != 0 {
		t.Errorf("b: %+v", d[1])
	}
	if _, err := Dynamics(nil); err == nil {
		t.Error("no records: no error")
	}
}

// The trainer hands its records so far to the progress callback, so a live view can draw them.
func TestProgressCarriesTheRecordsSoFar(t *testing.T) {
	m, _ := NewTinyModel(TinyConfig{Vocab: 22, Seed: 1})
	var seen []int
	cfg := Config{Epochs: 2, BatchSize: 8, LR: 3e-3, LogEvery: 1, Progress: func(p Progress) {
		if p.Phase == "train" {
			seen = append(seen, len(p.Records))
		}
	}}
	res, err := Train(t.Context(), m, copyTask(16, 22, 1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != res.Steps || seen[0] != 8 || seen[len(seen)-1] != len(res.Records) {
		t.Errorf("records seen by progress: %v (final %d)", seen, len(res.Records))
	}
}
