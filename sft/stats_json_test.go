package sft

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// Equal final losses (a model that learnt nothing, or memorised everything) have no rank
// correlation: that is reported, and written as null, instead of failing the run.
func TestUndefinedStatisticsAreReportedNotFailed(t *testing.T) {
	st, err := ImbalanceOf([]int{0, 1, 2, 3, 4}, []float64{2, 2, 2, 2, 2}, StatsOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(st.Spearman) || !math.IsNaN(st.SpearmanP) || st.Gap != 0 || st.Slope != 0 {
		t.Fatalf("stats %+v", st)
	}
	if want := "undefined: all final losses are equal, so they have no rank correlation with position"; st.Verdict() != want {
		t.Errorf("verdict %q", st.Verdict())
	}
	if !strings.Contains(st.String(), "undefined: all final losses are equal") {
		t.Errorf("report: %s", st)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"spearman":null`) || !strings.Contains(string(b), `"spearman_p":null`) || !strings.Contains(string(b), `"undefined":"all final losses are equal`) || !strings.Contains(string(b), `"gap":0`) {
		t.Errorf("JSON %s", b)
	}
	var back ImbalanceStats
	if err := json.Unmarshal(b, &back); err != nil || !math.IsNaN(back.Spearman) || back.N != 5 || back.Undefined != st.Undefined || len(back.Bins) != 5 {
		t.Errorf("read back %+v, %v", back, err)
	}

	defined, err := ImbalanceOf([]int{0, 1, 2, 3, 4}, []float64{5, 4, 3, 2, 1}, StatsOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	sum := SummarizeImbalance([]ImbalanceStats{st, defined})
	if sum.Undefined != 1 || sum.MeanSpearman != -1 || !strings.Contains(sum.String(), "1 with undefined statistics left out") {
		t.Errorf("summary %+v: %s", sum, sum)
	}
	none := SummarizeImbalance([]ImbalanceStats{st})
	b, err = json.Marshal(none)
	if err != nil || !strings.Contains(string(b), `"mean_spearman":null`) {
		t.Errorf("summary of undefined statistics: %s, %v", b, err)
	}
	var sb ImbalanceSummary
	if err := json.Unmarshal(b, &sb); err != nil || sb.Undefined != 1 {
		t.Errorf("summary read back %+v, %v", sb, err)
	}
}
