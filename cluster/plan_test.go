package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/study"
)

// testPlan is a valid plan in a temporary folder.
func testPlan(t *testing.T) *Plan {
	t.Helper()
	p := &Plan{
		Out: filepath.Join(t.TempDir(), "run"), Binary: "/opt/ordermerge/bin/ordermerge", K: 3, FirstSeed: 11,
		TrainArgs: []string{"--data=embedded:arith", "--init=/cfg/tiny model.json", "--epochs=2", "--lr=0.001"},
		Data:      "embedded:arith", Init: "/cfg/tiny model.json", InitSeed: 4, EvalData: "embedded:arith",
	}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlanCheckDefaultsAndErrors(t *testing.T) {
	p := testPlan(t)
	if p.Name != "ordermerge" || p.EvalSplit != "test" || p.MergeSeeds != 1 || !reflect.DeepEqual(p.Methods, study.DefaultMethods()) {
		t.Errorf("defaults: name %q split %q seeds %d methods %v", p.Name, p.EvalSplit, p.MergeSeeds, p.Methods)
	}
	if p.Seed(2) != 13 || p.VariantDir(2) != filepath.Join(p.Out, "variant-2") || p.TaskLog(1) != filepath.Join(p.Out, "logs", "variant-1.log") {
		t.Errorf("seed %d, dir %s, log %s", p.Seed(2), p.VariantDir(2), p.TaskLog(1))
	}
	cmd := p.TrainCommand(1)
	if !slices.Equal(cmd[len(cmd)-4:], []string{"--order-seed", "12", "--out", p.VariantDir(1)}) || cmd[1] != "train" {
		t.Errorf("train command %q", cmd)
	}
	cases := map[string]func(*Plan){
		"not absolute":    func(p *Plan) { p.Out = "run" },
		"at least 1":      func(p *Plan) { p.K = 0 },
		"overflow":        func(p *Plan) { p.FirstSeed = ^uint64(0) },
		"exactly one":     func(p *Plan) { p.Base = "/base" },
		"set by the plan": func(p *Plan) { p.TrainArgs = append(p.TrainArgs, "--out=/elsewhere") },
		"--order-seed":    func(p *Plan) { p.TrainArgs = append(p.TrainArgs, "-order-seed", "3") },
		"unknown merge":   func(p *Plan) { p.Methods = []study.MethodSpec{{Name: "x", Method: "averaging"}} },
		"two merges": func(p *Plan) {
			p.Methods = []study.MethodSpec{{Name: "a", Method: "linear"}, {Name: "a", Method: "ties"}}
		},
		"no evaluation":        func(p *Plan) { p.EvalData = "" },
		"letters, digits":      func(p *Plan) { p.Name = "my run" },
		"no training data":     func(p *Plan) { p.Data = "" },
		"test size":            func(p *Plan) { p.TestSize = -1 },
		"no ordermerge binary": func(p *Plan) { p.Binary = "" },
	}
	for want, change := range cases {
		q := *testPlan(t)
		change(&q)
		err := q.Check()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", want, err)
		}
	}
}

func TestPlanSaveLoadSame(t *testing.T) {
	p := testPlan(t)
	p.Command = "ordermerge submit slurm ..."
	if err := p.Save(); err != nil {
		t.Fatal(err)
	}
	q, err := LoadPlan(p.Out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("loaded plan differs:\n%+v\n%+v", p, q)
	}
	if diff := p.Same(q); diff != "" {
		t.Errorf("same plan: %s", diff)
	}
	q.TrainArgs = append(q.TrainArgs, "--epochs=3")
	if diff := p.Same(q); !strings.Contains(diff, "train flags differ") {
		t.Errorf("other train flags: %q", diff)
	}
	if _, err := LoadPlan(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no plan here") {
		t.Errorf("folder without a plan: %v", err)
	}
	bad := filepath.Join(t.TempDir(), PlanFile)
	os.WriteFile(bad, []byte(`{"format":"ordermerge-plan","version":1,"k":0}`), 0o644)
	if _, err := LoadPlan(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad plan: %v", err)
	}
}

func TestParseMethods(t *testing.T) {
	got, err := ParseMethods("linear:include_base=false, parameter_selection:resample=true,ties:density=0.5,dare_linear:density=0.3:normalize=false")
	if err != nil {
		t.Fatal(err)
	}
	want := []study.MethodSpec{
		{Name: "weighted average", Method: "linear", Params: map[string]any{"include_base": false}},
		{Name: "param. selection + resampling", Method: "parameter_selection", Params: map[string]any{"resample": true}},
		{Name: "TIES", Method: "ties", Params: map[string]any{"density": 0.5}},
		{Name: "dare_linear:density=0.3:normalize=false", Method: "dare_linear", Params: map[string]any{"density": 0.3, "normalize": false}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if d, _ := ParseMethods(""); !reflect.DeepEqual(d, study.DefaultMethods()) {
		t.Errorf("empty list: %v", d)
	}
	for list, want := range map[string]string{"averaging": "unknown method", "ties:density": "not name=value", "linear,,ties": "unknown method"} {
		if _, err := ParseMethods(list); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", list, err)
		}
	}
}

func TestMergeDirNames(t *testing.T) {
	p := testPlan(t)
	if d := p.MergeDir(study.MethodSpec{Name: "param. selection + resampling", Method: "parameter_selection"}, 2); d != filepath.Join(p.Out, "merged", "param-selection-resampling-seed-2") {
		t.Errorf("randomised: %s", d)
	}
	if d := p.MergeDir(study.MethodSpec{Name: "TIES", Method: "ties"}, 1); d != filepath.Join(p.Out, "merged", "ties") {
		t.Errorf("deterministic: %s", d)
	}
}

func TestArraySpec(t *testing.T) {
	for _, c := range []struct {
		idx      []int
		throttle int
		want     string
	}{{[]int{0, 1, 2}, 0, "0-2"}, {[]int{1}, 0, "1"}, {[]int{0, 2, 3, 4, 7}, 0, "0,2-4,7"}, {[]int{0, 1, 2, 3}, 2, "0-3%2"}} {
		if got := arraySpec(c.idx, c.throttle); got != c.want {
			t.Errorf("%v %d: %q, want %q", c.idx, c.throttle, got, c.want)
		}
	}
}

// TestShellQuote checks the quoting against bash itself.
func TestShellQuote(t *testing.T) {
	args := []string{"plain", "with space", "it's", `$HOME "x" \n`, "", "a;b|c&d", "--lr=1e-3"}
	out, err := exec.Command("bash", "-c", "printf '%s\\n' "+shellJoin(args)).Output()
	if err != nil {
		t.Skipf("SKIPPED: no bash: %v", err)
	}
	if got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"); !slices.Equal(got, args) {
		t.Errorf("bash read %q, want %q", got, args)
	}
}
