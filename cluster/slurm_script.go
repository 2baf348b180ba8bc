package cluster

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// SlurmOptions are the user's sbatch options. Each set field becomes an #SBATCH line of both
// jobs (the array and the finishing job) unless it is one of the Finish fields.
type SlurmOptions struct {
	Partition   string
	Account     string
	QOS         string
	Time        string // --time of each task, e.g. "4:00:00"
	Gres        string // e.g. "gpu:1"
	Mem         string // e.g. "16G"
	Constraint  string
	CPUsPerTask int
	// Throttle limits how many tasks run at once (--array=0-7%2); 0: no limit.
	Throttle int
	// Extra are more sbatch options for both jobs, each as on sbatch's command line
	// ("--mail-type=END") or as a whole "#SBATCH ..." line.
	Extra []string
	// FinishTime and FinishGres replace Time and Gres for the finishing job ("none": leave it
	// out); FinishExtra adds options to it only.
	FinishTime  string
	FinishGres  string
	FinishExtra []string
}

// Slurm file names under OUT/slurm.
const (
	SlurmDir          = "slurm"
	TrainScriptFile   = "train.sbatch"
	FinishScriptFile  = "finish.sbatch"
	stopSignalSeconds = 120 // train checkpoints on SIGTERM; Slurm sends it this long before --time
)

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// sbatchLines turns the options into #SBATCH lines; finish selects the finishing job's.
func (o SlurmOptions) sbatchLines(finish bool) ([]string, error) {
	var lines []string
	add := func(flag, v string) {
		if v != "" && v != "none" {
			lines = append(lines, "#SBATCH --"+flag+"="+v)
		}
	}
	add("partition", o.Partition)
	add("account", o.Account)
	add("qos", o.QOS)
	timeLimit, gres := o.Time, o.Gres
	if finish {
		if o.FinishTime != "" {
			timeLimit = o.FinishTime
		}
		if o.FinishGres != "" {
			gres = o.FinishGres
		}
	}
	add("time", timeLimit)
	add("gres", gres)
	add("mem", o.Mem)
	add("constraint", o.Constraint)
	if o.CPUsPerTask < 0 {
		return nil, fmt.Errorf("slurm: cpus per task %d is negative", o.CPUsPerTask)
	}
	if o.CPUsPerTask > 0 {
		add("cpus-per-task", strconv.Itoa(o.CPUsPerTask))
	}
	extra := o.Extra
	if finish {
		extra = append(append([]string(nil), o.Extra...), o.FinishExtra...)
	}
	for _, e := range extra {
		e = strings.TrimSpace(e)
		switch {
		case strings.ContainsAny(e, "\n\r"):
			return nil, fmt.Errorf("slurm: sbatch option %q spans lines", e)
		case strings.HasPrefix(e, "#SBATCH "):
			lines = append(lines, e)
		case strings.HasPrefix(e, "-"):
			lines = append(lines, "#SBATCH "+e)
		case e == "":
		default:
			return nil, fmt.Errorf("slurm: sbatch option %q: write it as on sbatch's command line (--name=value) or as an #SBATCH line", e)
		}
	}
	return lines, nil
}

// checkSlurmPath refuses paths that #SBATCH lines cannot carry: whitespace ends the value and
// '%' starts a file-name pattern.
func checkSlurmPath(what, p string) error {
	if strings.ContainsAny(p, " \t\n%") {
		return fmt.Errorf("slurm: %s %q contains whitespace or %%, which #SBATCH lines cannot carry; choose another folder", what, p)
	}
	return nil
}

// arraySpec is the --array value of the given task indices, e.g. "0-2", "1,4" or "0-7%2".
func arraySpec(indices []int, throttle int) string {
	var parts []string
	for i := 0; i < len(indices); {
		j := i
		for j+1 < len(indices) && indices[j+1] == indices[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", indices[i], indices[j]))
		} else {
			parts = append(parts, strconv.Itoa(indices[i]))
		}
		i = j + 1
	}
	s := strings.Join(parts, ",")
	if throttle > 0 {
		s += "%" + strconv.Itoa(throttle)
	}
	return s
}

// SlurmScripts returns the two batch scripts of the plan: the job array (one task per order
// seed; SLURM_ARRAY_TASK_ID picks the variant) and the finishing job (submitted with a
// dependency on every task).
func (p *Plan) SlurmScripts(o SlurmOptions) (train, finish string, err error) {
	if err := checkSlurmPath("output folder", p.Out); err != nil {
		return "", "", err
	}
	if o.Throttle < 0 {
		return "", "", fmt.Errorf("slurm: throttle %d is negative", o.Throttle)
	}
	trainOpts, err := o.sbatchLines(false)
	if err != nil {
		return "", "", err
	}
	finishOpts, err := o.sbatchLines(true)
	if err != nil {
		return "", "", err
	}
	all := make([]int, p.K)
	for i := range all {
		all[i] = i
	}
	logs := filepath.Join(p.Out, LogsDir)

	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n")
	fmt.Fprintf(&b, "# ordermerge plan %s: %d order variants (seeds %d..%d), one array task each.\n", p.Out, p.K, p.Seed(0), p.Seed(p.K-1))
	fmt.Fprintf(&b, "# Written by ordermerge submit slurm. A task that runs again (requeued after preemption,\n")
	fmt.Fprintf(&b, "# a node failure or by ordermerge status --requeue) resumes from its variant's checkpoint.\n")
	fmt.Fprintf(&b, "#SBATCH --job-name=%s-train\n", p.Name)
	fmt.Fprintf(&b, "#SBATCH --array=%s\n", arraySpec(all, o.Throttle))
	fmt.Fprintf(&b, "#SBATCH --output=%s/variant-%%a.log\n", logs)
	fmt.Fprintf(&b, "#SBATCH --open-mode=append\n")
	fmt.Fprintf(&b, "#SBATCH --chdir=%s\n", p.Out)
	fmt.Fprintf(&b, "#SBATCH --requeue\n")
	fmt.Fprintf(&b, "#SBATCH --signal=B:TERM@%d\n", stopSignalSeconds)
	for _, l := range trainOpts {
		fmt.Fprintln(&b, l)
	}
	fmt.Fprintf(&b, "set -eu\n")
	fmt.Fprintf(&b, "task=\"${SLURM_ARRAY_TASK_ID:?submit this script with sbatch --array}\"\n")
	fmt.Fprintf(&b, "case \"$task\" in\n")
	for i := 0; i < p.K; i++ {
		fmt.Fprintf(&b, "  %d) seed=%d ;;\n", i, p.Seed(i))
	}
	fmt.Fprintf(&b, "  *) echo \"ordermerge: this plan has no variant $task (0..%d)\" >&2; exit 2 ;;\n", p.K-1)
	fmt.Fprintf(&b, "esac\n")
	fmt.Fprintf(&b, "echo \"ordermerge: variant $task, order seed $seed, job ${SLURM_JOB_ID:-?}, attempt $(( ${SLURM_RESTART_COUNT:-0} + 1 )), host $(hostname), $(date -u +%%FT%%TZ)\"\n")
	cmd := append([]string{p.Binary, "train"}, p.TrainArgs...)
	fmt.Fprintf(&b, "exec %s --order-seed \"$seed\" --out %s/\"variant-$task\"\n", shellJoin(cmd), shellQuote(p.Out))
	train = b.String()

	b.Reset()
	fmt.Fprintf(&b, "#!/bin/bash\n")
	fmt.Fprintf(&b, "# ordermerge plan %s: merge the %d variants (%d methods), evaluate every model, write the report.\n", p.Out, p.K, len(p.Methods))
	fmt.Fprintf(&b, "# Written by ordermerge submit slurm; submitted with --dependency=afterok on every array task.\n")
	fmt.Fprintf(&b, "#SBATCH --job-name=%s-finish\n", p.Name)
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", p.FinishLogPath())
	fmt.Fprintf(&b, "#SBATCH --open-mode=append\n")
	fmt.Fprintf(&b, "#SBATCH --chdir=%s\n", p.Out)
	fmt.Fprintf(&b, "#SBATCH --requeue\n")
	for _, l := range finishOpts {
		fmt.Fprintln(&b, l)
	}
	fmt.Fprintf(&b, "set -eu\n")
	fmt.Fprintf(&b, "echo \"ordermerge: finishing, job ${SLURM_JOB_ID:-?}, host $(hostname), $(date -u +%%FT%%TZ)\"\n")
	fmt.Fprintf(&b, "exec %s\n", shellJoin(p.FinishCommand()))
	return train, b.String(), nil
}
