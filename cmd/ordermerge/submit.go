package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ordermerge/ordermerge/cluster"
)

const submitUsage = `usage:
  ordermerge submit slurm      [train flags] --variants K --out DIR [plan flags] [sbatch flags] [--dry-run]
  ordermerge submit kubernetes [train flags] --variants K --out DIR [plan flags] --image IMG --volume-claim PVC [flags]

Trains K order variants as K jobs of a cluster scheduler, then merges them with every method,
evaluates every model and writes the report (DIR/report), in a job that waits for them.
The train flags are those of 'ordermerge train' (see 'ordermerge train -h'); --order-seed is the
first variant's seed. Variant I trains into DIR/variant-I and resumes from its checkpoint when
it runs again (requeued after preemption, or by 'ordermerge status --requeue DIR').
Submitting again into DIR, once its jobs have ended, trains only the incomplete variants.
Follow the jobs with 'ordermerge status DIR'.

flags:`

// submitDefaultCheckpointEvery is the checkpoint cadence of a task whose train flags do not
// set one: a requeued task loses at most this many steps.
const submitDefaultCheckpointEvery = 50

// repeatedFlag collects every value of a flag given more than once.
type repeatedFlag []string

func (r *repeatedFlag) String() string     { return strings.Join(*r, " ") }
func (r *repeatedFlag) Set(v string) error { *r = append(*r, v); return nil }

// pathTrainFlags are train flags naming files: the jobs run elsewhere, so they become absolute.
var pathTrainFlags = []string{"data", "base", "init", "tokenizer"}

// planFlags are the flags of both schedulers besides train's.
type planFlags struct {
	k                 int
	methods, evalData string
	evalSplit, name   string
	binary            string
	mergeSeeds        int
	testSize          int
	dryRun            bool
	// defaultBinary is what the jobs run without --binary.
	defaultBinary string
	// podPaths marks paths that are the pods' (Kubernetes): they must be absolute and need
	// not exist here.
	podPaths bool
}

func (pf *planFlags) define(fs *flag.FlagSet) {
	fs.IntVar(&pf.k, "k", 0, "number of order variants (the same as --variants)")
	fs.StringVar(&pf.methods, "methods", "", "merges of the finishing job: comma-separated merge methods, each with optional :name=value parameters, e.g. linear,parameter_selection,ties:density=0.5 (default: the study's five)")
	fs.IntVar(&pf.mergeSeeds, "merge-seeds", 3, "seeds per randomised merge (parameter_selection, dare_*)")
	fs.StringVar(&pf.evalData, "eval-data", "", "dataset every model is scored on: embedded:NAME or a file (default: the test split of an embedded --data)")
	fs.StringVar(&pf.evalSplit, "eval-split", "test", "split of an embedded --eval-data")
	fs.IntVar(&pf.testSize, "test-size", 0, "score on the first N evaluation samples only (0: all)")
	fs.StringVar(&pf.name, "name", "ordermerge", "prefix of the job names")
	fs.StringVar(&pf.binary, "binary", "", "the ordermerge binary the jobs run; the nodes must see it at this path (default: "+pf.defaultBinary+")")
	fs.BoolVar(&pf.dryRun, "dry-run", false, "print what would be submitted; write and submit nothing")
}

// path checks a path flag's value and returns it as the jobs see it.
func (pf *planFlags) path(flagName, v string) (string, error) {
	if v == "" || strings.HasPrefix(v, "embedded:") {
		return v, nil
	}
	if pf.podPaths {
		if !filepath.IsAbs(v) {
			return "", usagef("--%s %s: give the path the pods see, absolute", flagName, v)
		}
		return v, nil
	}
	if _, err := os.Stat(v); err != nil {
		return "", usagef("--%s: %v", flagName, err)
	}
	return filepath.Abs(v)
}

// parse parses the args of `submit SCHEDULER` (train's flags, these and the scheduler's,
// defined on fs already) and builds the plan.
func (pf *planFlags) parse(fs *flag.FlagSet, scheduler string, args []string) (*cluster.Plan, error) {
	var own []string // the flags of submit, not of train
	fs.VisitAll(func(f *flag.Flag) { own = append(own, f.Name) })
	usage := func() {
		fmt.Fprintln(fs.Output(), submitUsage)
		fs.PrintDefaults()
	}
	tf, err := parseTrainFlagsOn(fs, args, usage)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["overwrite"]:
		return nil, usagef("--overwrite does not go with submit: every task must resume its checkpoint; remove DIR/variant-I yourself to start a variant over")
	case set["k"] && set["variants"] && pf.k != tf.variants:
		return nil, usagef("--k %d and --variants %d disagree", pf.k, tf.variants)
	}
	k := tf.variants
	if set["k"] {
		k = pf.k
	}
	if k < 1 {
		return nil, usagef("give the number of order variants with --variants K (K >= 1)")
	}
	if !set["checkpoint-every"] {
		fs.Set("checkpoint-every", fmt.Sprint(submitDefaultCheckpointEvery))
	}
	// The flags every task gets: train's as set, with paths as the jobs see them.
	var forwarded []string
	var perr error
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(own, f.Name) || slices.Contains([]string{"out", "order-seed", "variants"}, f.Name) {
			return
		}
		v := f.Value.String()
		if slices.Contains(pathTrainFlags, f.Name) {
			if p, err := pf.path(f.Name, v); err != nil {
				perr = err
			} else {
				v = p
			}
		}
		forwarded = append(forwarded, "--"+f.Name+"="+v)
	})
	if perr != nil {
		return nil, perr
	}
	out := tf.out
	if !pf.podPaths {
		if out, err = filepath.Abs(out); err != nil {
			return nil, err
		}
	} else if !filepath.IsAbs(out) {
		return nil, usagef("--out %s: give the path the pods see, absolute", out)
	}
	methods, err := cluster.ParseMethods(pf.methods)
	if err != nil {
		return nil, usagef("--methods: %v", err)
	}
	evalData := pf.evalData
	if evalData == "" {
		if !strings.HasPrefix(tf.data, "embedded:") {
			return nil, usagef("--data is a file: give the data to score the models on with --eval-data (embedded:NAME or a file)")
		}
		evalData = tf.data
	}
	p := &cluster.Plan{
		Name: pf.name, Out: out, Binary: pf.binary, TrainArgs: forwarded, K: k, FirstSeed: tf.cfg.OrderSeed,
		InitSeed: tf.initSeed, Template: tf.template, Methods: methods, MergeSeeds: pf.mergeSeeds,
		EvalSplit: pf.evalSplit, TestSize: pf.testSize, Command: "ordermerge submit " + scheduler + " " + commandLine(args),
	}
	for _, f := range []struct {
		name string
		from string
		dst  *string
	}{{"data", tf.data, &p.Data}, {"base", tf.base, &p.Base}, {"init", tf.init, &p.Init}, {"eval-data", evalData, &p.EvalData}} {
		if *f.dst, err = pf.path(f.name, f.from); err != nil {
			return nil, err
		}
	}
	switch {
	case p.Binary == "":
		p.Binary = pf.defaultBinary
	case !pf.podPaths:
		if p.Binary, err = filepath.Abs(p.Binary); err != nil {
			return nil, err
		}
	}
	if err := p.Check(); err != nil {
		return nil, usagef("%v", err)
	}
	return p, nil
}

func runSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, strings.SplitN(submitUsage, "\n\n", 2)[0])
		fmt.Fprintln(stderr, "\nRun 'ordermerge submit slurm -h' or 'ordermerge submit kubernetes -h' for the flags.")
		if len(args) == 0 {
			return usagef("which scheduler? slurm or kubernetes")
		}
		return errHelp
	}
	switch args[0] {
	case "slurm":
		return runSubmitSlurm(ctx, args[1:], stdout, stderr)
	case "kubernetes", "k8s":
		return runSubmitKubernetes(args[1:], stdout, stderr)
	}
	return usagef("unknown scheduler %q: slurm or kubernetes", args[0])
}

// commandLine quotes a command for the report.
func commandLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t'\"$\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'"'"'`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

func selfBinary() string {
	exe, err := os.Executable()
	if err != nil {
		return "ordermerge"
	}
	if abs, err := filepath.EvalSymlinks(exe); err == nil {
		return abs
	}
	return exe
}

func runSubmitSlurm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("submit slurm", stderr)
	pf := &planFlags{defaultBinary: selfBinary()}
	pf.define(fs)
	var o cluster.SlurmOptions
	fs.StringVar(&o.Partition, "partition", "", "sbatch --partition")
	fs.StringVar(&o.Account, "account", "", "sbatch --account")
	fs.StringVar(&o.QOS, "qos", "", "sbatch --qos")
	fs.StringVar(&o.Time, "time", "", "sbatch --time of each task, e.g. 4:00:00 (train checkpoints and stops 2 minutes before it)")
	fs.StringVar(&o.Gres, "gres", "", "sbatch --gres of each task, e.g. gpu:1")
	fs.StringVar(&o.Mem, "mem", "", "sbatch --mem of each task, e.g. 16G")
	fs.StringVar(&o.Constraint, "constraint", "", "sbatch --constraint")
	fs.IntVar(&o.CPUsPerTask, "cpus-per-task", 0, "sbatch --cpus-per-task")
	fs.IntVar(&o.Throttle, "throttle", 0, "run at most N tasks at once (--array=...%N; 0: no limit)")
	fs.Var((*repeatedFlag)(&o.Extra), "sbatch", "another sbatch option for both jobs, as on sbatch's command line, e.g. --sbatch=--mail-type=END (repeatable)")
	fs.StringVar(&o.FinishTime, "finish-time", "", "--time of the finishing job (default: --time)")
	fs.StringVar(&o.FinishGres, "finish-gres", "", "--gres of the finishing job (default: --gres; none: no gres)")
	fs.Var((*repeatedFlag)(&o.FinishExtra), "finish-sbatch", "another sbatch option for the finishing job only (repeatable)")
	p, err := pf.parse(fs, "slurm", args)
	if err != nil {
		return err
	}
	// train's --device is forwarded to the tasks like every train flag; the finishing job
	// evaluates on it too when it gets a GPU.
	device := fs.Lookup("device").Value.String()
	finishGres := o.Gres
	if o.FinishGres != "" {
		finishGres = o.FinishGres
	}
	switch {
	case strings.Contains(o.Gres, "gpu") && device == "cpu":
		fmt.Fprintln(stderr, "note: --gres asks for GPUs but the tasks train on --device cpu (the default); add --device cuda to use them")
	case device != "cpu" && strings.Contains(finishGres, "gpu"):
		p.FinishArgs = []string{"--device=" + device}
	}
	if pf.dryRun {
		return printSlurmDryRun(p, o, stdout)
	}
	did, err := (&cluster.Slurm{}).Submit(ctx, p, o)
	for _, d := range did {
		fmt.Fprintln(stdout, d)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "scripts in %s; logs in %s\nfollow the jobs: ordermerge status %s\n", filepath.Join(p.Out, cluster.SlurmDir), filepath.Join(p.Out, cluster.LogsDir), p.Out)
	return nil
}

func printSlurmDryRun(p *cluster.Plan, o cluster.SlurmOptions, stdout io.Writer) error {
	train, finish, err := p.SlurmScripts(o)
	if err != nil {
		return err
	}
	dir := filepath.Join(p.Out, cluster.SlurmDir)
	fmt.Fprintf(stdout, "# dry run: nothing written, nothing submitted.\n# %s\n%s\n# %s\n%s\n", filepath.Join(dir, cluster.TrainScriptFile), train, filepath.Join(dir, cluster.FinishScriptFile), finish)
	fmt.Fprintf(stdout, "# would run:\n#   sbatch --parsable %s\n#   sbatch --parsable --dependency=afterok:ARRAY_0:...:ARRAY_%d --kill-on-invalid-dep=no %s\n",
		filepath.Join(dir, cluster.TrainScriptFile), p.K-1, filepath.Join(dir, cluster.FinishScriptFile))
	return nil
}

func runSubmitKubernetes(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("submit kubernetes", stderr)
	pf := &planFlags{defaultBinary: "ordermerge", podPaths: true}
	pf.define(fs)
	var o cluster.KubernetesOptions
	manifests := fs.String("manifests", "", "folder to write train.yaml and finish.yaml into (default: ./NAME-kubernetes)")
	fs.StringVar(&o.Image, "image", "", "container image with the ordermerge binary (required)")
	fs.StringVar(&o.Namespace, "namespace", "", "namespace of the Jobs (default: kubectl's current)")
	fs.StringVar(&o.VolumeClaim, "volume-claim", "", "PersistentVolumeClaim (ReadWriteMany) holding --out and the input files (required)")
	fs.StringVar(&o.MountPath, "mount-path", "/data", "where the claim is mounted in the pods; --out and input files must be under it")
	fs.IntVar(&o.GPUs, "gpus", 0, "nvidia.com/gpu per task")
	fs.IntVar(&o.FinishGPUs, "finish-gpus", 0, "nvidia.com/gpu of the merge Job")
	fs.StringVar(&o.CPU, "cpu", "", "CPU request and limit per pod, e.g. 4")
	fs.StringVar(&o.Memory, "memory", "", "memory request and limit per pod, e.g. 16Gi")
	fs.IntVar(&o.Parallelism, "parallelism", 0, "tasks running at once (0: all)")
	fs.IntVar(&o.BackoffLimit, "backoff-limit", 0, "pod failures tolerated in all (0: 3 per variant); a restarted pod resumes its checkpoint")
	// The paths are the pods' (on the claim): they need not exist here.
	p, err := pf.parse(fs, "kubernetes", args)
	if err != nil {
		return err
	}
	if device := fs.Lookup("device").Value.String(); device != "cpu" && o.FinishGPUs > 0 {
		p.FinishArgs = []string{"--device=" + device}
	}
	train, finish, err := p.KubernetesManifests(o)
	if err != nil {
		return usagef("%v", err)
	}
	if pf.dryRun {
		fmt.Fprintf(stdout, "# dry run: nothing written.\n# %s\n%s\n# %s\n%s", cluster.KubeTrainFile, train, cluster.KubeFinishFile, finish)
		return nil
	}
	dir := *manifests
	if dir == "" {
		dir = p.Name + "-kubernetes"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range map[string][]byte{cluster.KubeTrainFile: train, cluster.KubeFinishFile: finish} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s and %s; run them with:\n", filepath.Join(dir, cluster.KubeTrainFile), filepath.Join(dir, cluster.KubeFinishFile))
	for _, c := range p.KubernetesCommands(dir, o) {
		fmt.Fprintln(stdout, "  "+c)
	}
	return nil
}
