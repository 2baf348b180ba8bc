package data

import (
	"strings"
	"testing"
)

func TestScoreExactMatch(t *testing.T) {
	s := Sample{ID: "s", Response: "KOBALU"}
	for gen, want := range map[string]bool{"KOBALU": true, "  KOBALU \n": true, "kobalu": false, "KOBAL": false, "": false} {
		sc, err := ScoreSample(MetricExactMatch, s, gen)
		if err != nil || sc.Correct != want {
			t.Errorf("exact-match %q: %+v %v; want %v", gen, sc, err, want)
		}
	}
	if Normalize(" a \t b\n\nc ") != "a b c" {
		t.Errorf("Normalize = %q", Normalize(" a \t b\n\nc "))
	}
}

func TestScoreFinalAnswer(t *testing.T) {
	s := Sample{ID: "m", Response: "3*4=12\n7+12=19\n#### 19"}
	cases := map[string]bool{
		"3*4=12\n7+12=19\n#### 19": true,
		"wrong steps\n#### 19.0":   true,
		"#### $19.":                true,
		"#### 18\n#### 19":         true, // the last answer counts
		"#### 1,9":                 true, // separators dropped (GSM8K writes none; models sometimes do)
		"19":                       false,
		"#### 20":                  false,
		"####":                     false,
	}
	for gen, want := range cases {
		sc, err := ScoreSample(MetricFinalAnswer, s, gen)
		if err != nil || sc.Correct != want {
			t.Errorf("final-answer %q: %+v %v; want %v", gen, sc, err, want)
		}
	}
	if sc, _ := ScoreSample(MetricFinalAnswer, s, "19"); sc.Reason == "" {
		t.Error("no reason given for a missing ####")
	}
	if _, err := ScoreSample(MetricFinalAnswer, Sample{ID: "r", Response: "19"}, "#### 19"); err == nil || !strings.Contains(err.Error(), "sample r") {
		t.Errorf("reference without ####: %v", err)
	}
}

func TestScorePassAt1(t *testing.T) {
	s := Sample{ID: "c", Response: "map x*x | sum", Tests: []Case{{"[1 2]", "5"}, {"[3]", "9"}, {"[]", "0"}}}
	cases := []struct {
		gen     string
		correct bool
		passed  int
		reason  string
	}{
		{"map x*x | sum", true, 3, ""},
		{"map x*x|sum", true, 3, ""},             // spacing is free
		{"```\nmap x*x | sum\n```", true, 3, ""}, // a fence is tolerated
		{"map x+x | sum", false, 1, ""},          // right only on the empty list
		{"map x*x | max", false, 1, ""},          // 4 for [1 2]; right for [3]; fails on [],
		{"filter x>5 | first", false, 0, "empty"},
		{"square then sum", false, 0, "want a stage"},
	}
	for _, c := range cases {
		sc, err := ScoreSample(MetricPassAt1, s, c.gen)
		if err != nil || sc.Correct != c.correct || sc.Passed != c.passed || sc.Total != 3 || !strings.Contains(sc.Reason, c.reason) {
			t.Errorf("pass@1 %q: %+v %v", c.gen, sc, err)
		}
	}
	if _, err := ScoreSample(MetricPassAt1, Sample{ID: "n"}, "sum"); err == nil {
		t.Error("pass@1 without tests accepted")
	}
	if _, err := ScoreSample("bleu", s, ""); err == nil {
		t.Error("unknown metric accepted")
	}
	if a := Accuracy([]Score{{Correct: true}, {}, {Correct: true}, {}}); a != 0.5 {
		t.Errorf("Accuracy = %v", a)
	}
}
