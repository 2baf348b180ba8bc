package sft

import (
	"fmt"
	"math"
	"sort"
)

// LatestLosses returns, from the step records so far, every sample seen in the first epoch
// with its first-epoch position and its loss at its latest visit: the imbalance figure while
// training runs (the final losses replace it at the end). Samples are in id order.
func LatestLosses(records []StepRecord) (ids []string, positions []int, losses []float64) {
	first := map[string]int{}
	latest := map[string]float64{}
	for _, r := range records {
		if r.Epoch == 0 {
			first[r.ID] = r.Position
		}
		latest[r.ID] = r.Loss // records are in step order
	}
	for id := range first {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		positions = append(positions, first[id])
		losses = append(losses, latest[id])
	}
	return ids, positions, losses
}

// SampleDynamics is one sample's training dynamics, as in Dataset Cartography (Swayamdipta et
// al. 2020): Confidence is the mean over its visits of exp(-loss) (the geometric mean of the
// probabilities the model gave its response tokens when it trained on it), Variability their
// standard deviation (population, as the paper's); Visits counts them.
type SampleDynamics struct {
	ID            string  `json:"id"`
	FirstPosition int     `json:"first_position"`
	Visits        int     `json:"visits"`
	Confidence    float64 `json:"confidence"`
	Variability   float64 `json:"variability"`
}

// Dynamics computes every sample's training dynamics from the step records (one visit per
// epoch), in id order. Samples never seen in the first epoch are left out.
func Dynamics(records []StepRecord) ([]SampleDynamics, error) {
	if len(records) == 0 {
		return nil, fmt.Errorf("training dynamics: no step records")
	}
	first := map[string]int{}
	probs := map[string][]float64{}
	for _, r := range records {
		if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
			return nil, fmt.Errorf("training dynamics: sample %q has loss %v at step %d", r.ID, r.Loss, r.Step)
		}
		if r.Epoch == 0 {
			first[r.ID] = r.Position
		}
		probs[r.ID] = append(probs[r.ID], math.Exp(-r.Loss))
	}
	var out []SampleDynamics
	for id, pos := range first {
		p := probs[id]
		var m float64
		for _, v := range p {
			m += v
		}
		m /= float64(len(p))
		var ss float64
		for _, v := range p {
			ss += (v - m) * (v - m)
		}
		out = append(out, SampleDynamics{ID: id, FirstPosition: pos, Visits: len(p), Confidence: m, Variability: math.Sqrt(ss / float64(len(p)))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
