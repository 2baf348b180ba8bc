package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeBinary writes a stand-in for ordermerge that records its arguments, one per line.
func fakeBinary(t *testing.T) (bin, argsFile string) {
	t.Helper()
	dir := t.TempDir()
	bin, argsFile = filepath.Join(dir, "ordermerge"), filepath.Join(dir, "args")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, argsFile
}

func readArgs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the script did not run the binary: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// runScript runs a generated script with bash and the given environment.
func runScript(t *testing.T, script string, env ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skipf("SKIPPED: no bash: %v", err)
	}
	path := filepath.Join(t.TempDir(), "job.sh")
	os.WriteFile(path, []byte(script), 0o755)
	cmd := exec.Command("bash", path)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSlurmScriptsRunTheRightCommand runs the generated array script as Slurm would (with
// SLURM_ARRAY_TASK_ID set) and checks that each task runs exactly the plan's train command.
func TestSlurmScriptsRunTheRightCommand(t *testing.T) {
	p := testPlan(t)
	bin, argsFile := fakeBinary(t)
	p.Binary = bin
	o := SlurmOptions{Partition: "gpu", Time: "4:00:00", Gres: "gpu:1", Account: "lab", CPUsPerTask: 8, Throttle: 2,
		Extra: []string{"--mail-type=END", "#SBATCH --exclusive"}, FinishGres: "none", FinishExtra: []string{"--mem=64G"}}
	train, finish, err := p.SlurmScripts(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#SBATCH --array=0-2%2\n", "#SBATCH --output=" + p.Out + "/logs/variant-%a.log\n", "#SBATCH --open-mode=append\n",
		"#SBATCH --requeue\n", "#SBATCH --signal=B:TERM@120\n", "#SBATCH --partition=gpu\n", "#SBATCH --time=4:00:00\n",
		"#SBATCH --gres=gpu:1\n", "#SBATCH --account=lab\n", "#SBATCH --cpus-per-task=8\n", "#SBATCH --mail-type=END\n", "#SBATCH --exclusive\n"} {
		if !strings.Contains(train, want) {
			t.Errorf("array script lacks %q:\n%s", want, train)
		}
	}
	if strings.Contains(finish, "--gres") || !strings.Contains(finish, "#SBATCH --mem=64G\n") || !strings.Contains(finish, "#SBATCH --partition=gpu\n") || strings.Contains(train, "64G") {
		t.Errorf("finishing script's options:\n%s", finish)
	}
	for i := 0; i < p.K; i++ {
		if out, err := runScript(t, train, "SLURM_ARRAY_TASK_ID="+string(rune('0'+i))); err != nil {
			t.Fatalf("task %d: %v\n%s", i, err, out)
		}
		if got, want := readArgs(t, argsFile), p.TrainCommand(i)[1:]; !slices.Equal(got, want) {
			t.Errorf("task %d ran %q, want %q", i, got, want)
		}
	}
	if out, err := runScript(t, train, "SLURM_ARRAY_TASK_ID=7"); err == nil || !strings.Contains(out, "no variant 7") {
		t.Errorf("a task index outside the plan: %v %s", err, out)
	}
	if out, err := runScript(t, train); err == nil || !strings.Contains(out, "sbatch --array") {
		t.Errorf("run without Slurm: %v %s", err, out)
	}
	if out, err := runScript(t, finish); err != nil {
		t.Fatalf("finishing script: %v\n%s", err, out)
	}
	if got := readArgs(t, argsFile); !slices.Equal(got, []string{"finish", p.Out}) {
		t.Errorf("finishing job ran %q", got)
	}
}

func TestSlurmScriptsRefuse(t *testing.T) {
	p := testPlan(t)
	for _, c := range []struct {
		o    SlurmOptions
		want string
	}{
		{SlurmOptions{Extra: []string{"--a=b\n#SBATCH --c"}}, "spans lines"},
		{SlurmOptions{Extra: []string{"mail-type=END"}}, "as on sbatch's"},
		{SlurmOptions{CPUsPerTask: -1}, "is negative"},
		{SlurmOptions{Throttle: -1}, "throttle -1 is negative"},
	} {
		if _, _, err := p.SlurmScripts(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
	q := *p
	q.Out = "/scratch/my run"
	if _, _, err := q.SlurmScripts(SlurmOptions{}); err == nil || !strings.Contains(err.Error(), "whitespace") {
		t.Errorf("a folder with a space: %v", err)
	}
}
