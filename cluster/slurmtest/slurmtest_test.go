package slurmtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStartRunStop starts the one-node cluster, runs a job array of three tasks through it and
// checks that each wrote its output, then that stopping leaves no daemon behind.
func TestStartRunStop(t *testing.T) {
	t0 := time.Now()
	c := Start(t, Options{})
	t.Logf("started in %s", time.Since(t0))
	out := t.TempDir()
	script := filepath.Join(out, "job.sh")
	os.WriteFile(script, []byte("#!/bin/bash\necho task $SLURM_ARRAY_TASK_ID > "+out+"/task-$SLURM_ARRAY_TASK_ID.txt\n"), 0o755)
	if text, err := c.Run("sbatch", "--parsable", "--array=0-2", "--output=/dev/null", script); err != nil {
		t.Fatalf("sbatch: %v: %s", err, text)
	}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < 3; i++ {
		path := filepath.Join(out, "task-"+string(rune('0'+i))+".txt")
		for {
			b, err := os.ReadFile(path)
			if err == nil && strings.TrimSpace(string(b)) == "task "+string(rune('0'+i)) {
				break
			}
			if time.Now().After(deadline) {
				q, _ := c.Run("squeue", "-h", "-r", "-t", "all")
				t.Fatalf("task %d wrote nothing within a minute; squeue:\n%s", i, q)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	pidFiles := []string{c.path("slurmd.pid"), c.path("slurmctld.pid"), c.path("munge", "munged.pid")}
	var pids []string
	for _, f := range pidFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("no pid file %s: %v", f, err)
		}
		pids = append(pids, strings.TrimSpace(string(b)))
	}
	t.Logf("jobs done at %s", time.Since(t0))
	c.Stop()
	t.Logf("stopped at %s", time.Since(t0))
	for _, pid := range pids {
		if n, _ := strconv.Atoi(pid); alive(n) {
			t.Errorf("daemon pid %s still runs after stop", pid)
		}
	}
	if _, err := os.Stat(c.Dir); err == nil {
		t.Errorf("%s is left behind", c.Dir)
	}
}
