package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/ordermerge/ordermerge/merge"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/study"
	"github.com/ordermerge/ordermerge/tensor"
)

// Files and folders of a plan's output folder.
const (
	PlanFile   = "plan.json"
	LogsDir    = "logs"
	MergedDir  = "merged"
	ReportDir  = "report"
	BaseDir    = "base" // the freshly initialised base of an --init plan, written by Finish
	FinishLog  = "finish.log"
	planFormat = "ordermerge-plan"
	planV      = 1
)

// Plan is everything a submission runs: K training tasks that differ only in their order seed,
// then the finishing step (merge with every method, evaluate, report). It is written to
// OUT/plan.json; the job scripts and manifests are generated from it.
type Plan struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Name prefixes the job names (default "ordermerge").
	Name string `json:"name"`
	// Out is the output folder (absolute): variants in Out/variant-I, merges, report, logs.
	Out string `json:"out"`
	// Binary is the ordermerge executable the jobs run (absolute, or a bare name looked up on
	// the job's PATH, as in a container image).
	Binary string `json:"binary"`
	// TrainArgs are the `ordermerge train` flags every variant shares. The plan adds
	// --order-seed and --out per task; --variants and --overwrite never appear.
	TrainArgs []string `json:"train_args"`
	// K is the number of variants; their order seeds are FirstSeed, FirstSeed+1, ...
	K         int    `json:"k"`
	FirstSeed uint64 `json:"first_seed"`
	// Data is train's --data (embedded:NAME or an absolute file path); Base (a checkpoint
	// folder) or Init (a config.json) with InitSeed is the model every variant starts from.
	Data     string `json:"data"`
	Base     string `json:"base,omitempty"`
	Init     string `json:"init,omitempty"`
	InitSeed uint64 `json:"init_seed,omitempty"`
	// Template is train's --template (the evaluation lays prompts out the same way).
	Template string `json:"template,omitempty"`
	// Methods are the merges of the finishing step; randomised ones run MergeSeeds seeds.
	Methods    []study.MethodSpec `json:"methods"`
	MergeSeeds int                `json:"merge_seeds"`
	// EvalData is the dataset every model is scored on (embedded:NAME for an embedded test
	// split, or a file), EvalSplit its split; TestSize cuts it to its first N samples (0: all).
	EvalData  string `json:"eval_data"`
	EvalSplit string `json:"eval_split"`
	TestSize  int    `json:"test_size,omitempty"`
	// FinishArgs are more flags of the finishing job's `ordermerge finish` (its --device).
	FinishArgs []string `json:"finish_args,omitempty"`
	// Command is the command line that made the plan, quoted in the report.
	Command string `json:"command,omitempty"`
}

// Seed returns the order seed of task i.
func (p *Plan) Seed(i int) uint64 { return p.FirstSeed + uint64(i) }

// VariantDir is task i's output folder.
func (p *Plan) VariantDir(i int) string { return sft.VariantDir(p.Out, i) }

// TaskLog is task i's log file (the scheduler's output of every attempt, appended).
func (p *Plan) TaskLog(i int) string {
	return filepath.Join(p.Out, LogsDir, fmt.Sprintf("variant-%d.log", i))
}

// FinishLogPath is the finishing job's log.
func (p *Plan) FinishLogPath() string { return filepath.Join(p.Out, LogsDir, FinishLog) }

// TrainCommand is the command task i runs: ordermerge train with the shared flags, its order
// seed and its own folder.
func (p *Plan) TrainCommand(i int) []string {
	cmd := append([]string{p.Binary, "train"}, p.TrainArgs...)
	return append(cmd, "--order-seed", strconv.FormatUint(p.Seed(i), 10), "--out", p.VariantDir(i))
}

// FinishCommand is the command of the finishing job.
func (p *Plan) FinishCommand() []string {
	return append(append([]string{p.Binary, "finish"}, p.FinishArgs...), p.Out)
}

// reservedTrainFlags are set by the plan per task, or would break resuming.
var reservedTrainFlags = []string{"out", "order-seed", "variants", "overwrite"}

// Check validates the plan and fills its defaults. It touches no file.
func (p *Plan) Check() error {
	if p.Format == "" {
		p.Format, p.Version = planFormat, planV
	}
	if p.Format != planFormat || p.Version != planV {
		return fmt.Errorf("plan: format %q version %d, want %q version %d", p.Format, p.Version, planFormat, planV)
	}
	if p.Name == "" {
		p.Name = "ordermerge"
	}
	if strings.ContainsAny(p.Name, " \t\n'\"%/") {
		return fmt.Errorf("plan: name %q: use letters, digits, '-' and '_'", p.Name)
	}
	switch {
	case p.Out == "":
		return errors.New("plan: no output folder")
	case !filepath.IsAbs(p.Out):
		return fmt.Errorf("plan: output folder %q is not absolute", p.Out)
	case p.Binary == "":
		return errors.New("plan: no ordermerge binary")
	case p.K < 1:
		return fmt.Errorf("plan: %d variants; give at least 1", p.K)
	case p.FirstSeed+uint64(p.K-1) < p.FirstSeed:
		return fmt.Errorf("plan: order seeds %d + %d variants overflow", p.FirstSeed, p.K)
	case p.Data == "":
		return errors.New("plan: no training data")
	case (p.Base == "") == (p.Init == ""):
		return errors.New("plan: give exactly one of a base model and an init config")
	case p.EvalData == "":
		return errors.New("plan: no evaluation data")
	case p.TestSize < 0:
		return fmt.Errorf("plan: test size %d is negative", p.TestSize)
	}
	p.Out = filepath.Clean(p.Out)
	if p.EvalSplit == "" {
		p.EvalSplit = "test"
	}
	for _, a := range p.TrainArgs {
		name, ok := flagName(a)
		if ok && slices.Contains(reservedTrainFlags, name) {
			return fmt.Errorf("plan: train flag --%s is set by the plan (per task) and cannot be given", name)
		}
	}
	if len(p.Methods) == 0 {
		p.Methods = study.DefaultMethods()
	}
	names := map[string]bool{}
	for _, m := range p.Methods {
		if _, ok := merge.LookupMethod(m.Method); !ok {
			return fmt.Errorf("plan: unknown merge method %q (methods: %s)", m.Method, strings.Join(methodNames(), ", "))
		}
		if names[m.Name] {
			return fmt.Errorf("plan: two merges are named %q", m.Name)
		}
		names[m.Name] = true
	}
	if p.MergeSeeds <= 0 {
		p.MergeSeeds = 1
	}
	return nil
}

// flagName returns the name of a command-line flag argument ("--out=x" -> "out").
func flagName(arg string) (string, bool) {
	if !strings.HasPrefix(arg, "-") || arg == "-" || arg == "--" {
		return "", false
	}
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	return name, true
}

func methodNames() []string {
	var out []string
	for _, m := range merge.Methods() {
		out = append(out, m.Name)
	}
	return out
}

// ParseMethods reads a comma-separated list of merges, each a registered merge method with
// optional parameters after colons: "linear,parameter_selection:resample=true,ties:density=0.5".
// A merge equal to one of study.DefaultMethods takes that one's name in the report; others are
// named by their text. An empty list means study.DefaultMethods.
func ParseMethods(list string) ([]study.MethodSpec, error) {
	list = strings.TrimSpace(list)
	if list == "" {
		return study.DefaultMethods(), nil
	}
	var out []study.MethodSpec
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		parts := strings.Split(item, ":")
		spec := study.MethodSpec{Name: item, Method: parts[0]}
		if _, ok := merge.LookupMethod(spec.Method); !ok {
			return nil, fmt.Errorf("merge %q: unknown method %q (methods: %s)", item, spec.Method, strings.Join(methodNames(), ", "))
		}
		for _, kv := range parts[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("merge %q: parameter %q is not name=value", item, kv)
			}
			if spec.Params == nil {
				spec.Params = map[string]any{}
			}
			spec.Params[k] = parseValue(v)
		}
		for _, d := range study.DefaultMethods() {
			if d.Method == spec.Method && sameParams(d.Params, spec.Params) {
				spec.Name = d.Name
			}
		}
		out = append(out, spec)
	}
	return out, nil
}

func parseValue(v string) any {
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	return v
}

func sameParams(a, b map[string]any) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// Save writes the plan to OUT/plan.json (atomically), creating OUT.
func (p *Plan) Save() error {
	if err := os.MkdirAll(filepath.Join(p.Out, LogsDir), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	return tensor.WriteFileAtomic(filepath.Join(p.Out, PlanFile), append(b, '\n'))
}

// LoadPlan reads a plan from its output folder (or from a plan.json file).
func LoadPlan(path string) (*Plan, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, PlanFile)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no plan here (was anything submitted into this folder?)", path)
	}
	if err != nil {
		return nil, err
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

// Same reports the first setting in which q differs from p, as a sentence ("" if none): two
// submissions into one folder must train the same variants.
func (p *Plan) Same(q *Plan) string {
	switch {
	case !slices.Equal(p.TrainArgs, q.TrainArgs):
		return fmt.Sprintf("the train flags differ (%s, now %s)", strings.Join(p.TrainArgs, " "), strings.Join(q.TrainArgs, " "))
	case p.K != q.K:
		return fmt.Sprintf("the number of variants differs (%d, now %d)", p.K, q.K)
	case p.FirstSeed != q.FirstSeed:
		return fmt.Sprintf("the first order seed differs (%d, now %d)", p.FirstSeed, q.FirstSeed)
	}
	return ""
}
