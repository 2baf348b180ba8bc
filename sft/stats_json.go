package sft

import (
	"encoding/json"
	"math"
)

// undefinedWhy says why the rank correlation of x and y has no value.
func undefinedWhy(x, y []float64) string {
	constant := func(v []float64) bool {
		for _, e := range v {
			if e != v[0] {
				return false
			}
		}
		return true
	}
	switch {
	case constant(y):
		return "all final losses are equal, so they have no rank correlation with position"
	case constant(x):
		return "all positions are equal, so they have no rank correlation with loss"
	}
	return "the rank correlation has no value"
}

// jsonFloat is a float64 that encoding/json can write: NaN and ±Inf (undefined statistics)
// become null, and null reads back as NaN.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(f))
}

// imbalanceJSON is ImbalanceStats with the statistics that can be undefined as jsonFloat.
type imbalanceJSON struct {
	plainImbalance
	Spearman  jsonFloat `json:"spearman"`
	SpearmanP jsonFloat `json:"spearman_p"`
	Slope     jsonFloat `json:"slope"`
	Intercept jsonFloat `json:"intercept"`
	Gap       jsonFloat `json:"gap"`
	GapSE     jsonFloat `json:"gap_se"`
}

type plainImbalance ImbalanceStats

// MarshalJSON writes undefined statistics (NaN) as null: encoding/json refuses NaN, and a
// statistic that cannot be computed must not fail the run that reports it.
func (s ImbalanceStats) MarshalJSON() ([]byte, error) {
	return json.Marshal(imbalanceJSON{plainImbalance(s), jsonFloat(s.Spearman), jsonFloat(s.SpearmanP), jsonFloat(s.Slope), jsonFloat(s.Intercept), jsonFloat(s.Gap), jsonFloat(s.GapSE)})
}

// UnmarshalJSON reads what MarshalJSON wrote, null as NaN.
func (s *ImbalanceStats) UnmarshalJSON(b []byte) error {
	var j imbalanceJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = ImbalanceStats(j.plainImbalance)
	s.Spearman, s.SpearmanP, s.Slope, s.Intercept, s.Gap, s.GapSE = float64(j.Spearman), float64(j.SpearmanP), float64(j.Slope), float64(j.Intercept), float64(j.Gap), float64(j.GapSE)
	return nil
}

type plainSummary ImbalanceSummary

type summaryJSON struct {
	plainSummary
	MeanSpearman jsonFloat `json:"mean_spearman"`
	StdSpearman  jsonFloat `json:"std_spearman"`
	SESpearman   jsonFloat `json:"se_spearman"`
	MeanGap      jsonFloat `json:"mean_gap"`
	StdGap       jsonFloat `json:"std_gap"`
	SEGap        jsonFloat `json:"se_gap"`
	MeanSlope    jsonFloat `json:"mean_slope"`
	StdSlope     jsonFloat `json:"std_slope"`
	P            jsonFloat `json:"p"`
}

// MarshalJSON writes undefined means (no variant with defined statistics) as null.
func (s ImbalanceSummary) MarshalJSON() ([]byte, error) {
	return json.Marshal(summaryJSON{plainSummary(s), jsonFloat(s.MeanSpearman), jsonFloat(s.StdSpearman), jsonFloat(s.SESpearman),
		jsonFloat(s.MeanGap), jsonFloat(s.StdGap), jsonFloat(s.SEGap), jsonFloat(s.MeanSlope), jsonFloat(s.StdSlope), jsonFloat(s.P)})
}

// UnmarshalJSON reads what MarshalJSON wrote, null as NaN.
func (s *ImbalanceSummary) UnmarshalJSON(b []byte) error {
	j := summaryJSON{P: jsonFloat(math.NaN()), SESpearman: jsonFloat(math.NaN()), SEGap: jsonFloat(math.NaN())}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = ImbalanceSummary(j.plainSummary)
	s.MeanSpearman, s.StdSpearman, s.SESpearman = float64(j.MeanSpearman), float64(j.StdSpearman), float64(j.SESpearman)
	s.MeanGap, s.StdGap, s.SEGap = float64(j.MeanGap), float64(j.StdGap), float64(j.SEGap)
	s.MeanSlope, s.StdSlope, s.P = float64(j.MeanSlope), float64(j.StdSlope), float64(j.P)
	return nil
}
