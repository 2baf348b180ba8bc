// Package slurmtest starts a real one-node Slurm for tests: its own munged (own key and
// socket), slurmctld and slurmd, with their own ports, state, spool and log folders under a
// fresh temporary folder, so that several people running the same tests on one machine never
// meet. The daemons are Debian's slurm-wlm and munge (install.sh installs them); they run as
// root without systemd, with proctrack/linuxproc and task/none (no cgroups needed).
//
// Start skips the test, saying why, when Slurm or munge is missing or the test does not run as
// root; with ORDERMERGE_REQUIRE_SLURM=1 in the environment (set by .ci/run) it fails instead.
package slurmtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the variable that turns a missing Slurm into a test failure.
const RequireEnv = "ORDERMERGE_REQUIRE_SLURM"

// The cluster's partitions: jobs go to DefaultPartition unless told otherwise; a job in
// UrgentPartition preempts them (Slurm requeues a preempted job that allows it).
const (
	DefaultPartition = "debug"
	UrgentPartition  = "urgent"
)

// Options shape the cluster.
type Options struct {
	// MinJobAge is how long, in seconds, the controller remembers an ended job (Slurm's
	// default is 300; a small value lets a test see jobs that only accounting would know).
	MinJobAge int
}

// Cluster is a running one-node Slurm.
type Cluster struct {
	// Dir holds everything of this cluster: slurm.conf, munge/, state/, spool/, log/.
	Dir string
	// Conf is the slurm.conf; Slurm's commands find it through SLURM_CONF (see Env).
	Conf string
	// Node is the node's name (the machine's host name).
	Node    string
	env     []string
	logf    func(string, ...any)
	stopped bool
}

// tools are the programs the cluster needs.
var tools = []string{"munged", "munge", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo"}

func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// unavailable skips (or fails, when required) with the reason.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("a real Slurm is required (%s=1) but %s", RequireEnv, msg)
	}
	t.Skipf("SKIPPED: this test needs a real one-node Slurm, but %s (install.sh installs slurm-wlm and munge; set %s=1 to make this a failure)", msg, RequireEnv)
}

// Start starts munged, slurmctld and slurmd and waits until the node is idle. The daemons
// are stopped (after every job is cancelled) when the test ends.
func Start(t testing.TB, opt Options) *Cluster {
	t.Helper()
	if err := Available(); err != nil {
		unavailable(t, "%v", err)
	}
	c, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	c.logf = t.Logf
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("one-node Slurm in %s:%s%s", c.Dir, c.logTail("slurmctld"), c.logTail("slurmd"))
		}
		c.Stop()
	})
	return c
}

// Available says why a one-node Slurm cannot start here (nil if it can).
func Available() error {
	if runtime.GOOS != "linux" {
		return errors.New("it runs on Linux only")
	}
	for _, tool := range tools {
		if _, err := lookTool(tool); err != nil {
			return err
		}
	}
	if os.Geteuid() != 0 {
		return errors.New("this does not run as root (slurmd must)")
	}
	return nil
}

// New starts a cluster; Stop ends it.
func New(opt Options) (*Cluster, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	// A short path: munge's socket path must fit a Unix socket name.
	dir, err := os.MkdirTemp("", "om-slurm-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Conf: filepath.Join(dir, "slurm.conf"), logf: func(string, ...any) {}}
	var lastErr error
	// Ports are picked free but may be taken before slurmctld binds them: try again.
	for attempt := 0; attempt < 3; attempt++ {
		if lastErr = c.start(opt); lastErr == nil {
			return c, nil
		}
		c.stopDaemons()
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("starting a one-node Slurm in %s: %w", dir, lastErr)
}

// Open returns the cluster that New started in dir (from another process: the
// oneslurm command stops what it started this way).
func Open(dir string) (*Cluster, error) {
	c := &Cluster{Dir: dir, Conf: filepath.Join(dir, "slurm.conf"), logf: func(string, ...any) {}}
	if _, err := os.Stat(c.Conf); err != nil {
		return nil, fmt.Errorf("%s holds no one-node Slurm: %w", dir, err)
	}
	c.env = append(os.Environ(), "SLURM_CONF="+c.Conf)
	return c, nil
}

// Env is this process's environment with SLURM_CONF pointing at the cluster.
func (c *Cluster) Env() []string { return c.env }

func (c *Cluster) path(parts ...string) string {
	return filepath.Join(append([]string{c.Dir}, parts...)...)
}

func (c *Cluster) start(opt Options) error {
	for _, d := range []string{"munge", "state", "spool", "log"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			return err
		}
	}
	// munged insists that the socket's folder and its parents are reachable by all.
	for _, d := range []string{c.Dir, c.path("munge")} {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	if err := c.startMunge(); err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	c.Node = strings.SplitN(host, ".", 2)[0]
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.Conf, []byte(c.config(ports[0], ports[1], opt)), 0o644); err != nil {
		return err
	}
	c.env = append(os.Environ(), "SLURM_CONF="+c.Conf)
	if err := c.daemon("slurmctld"); err != nil {
		return err
	}
	if err := c.daemon("slurmd"); err != nil {
		return err
	}
	return c.waitIdle(30 * time.Second)
}

func (c *Cluster) startMunge() error {
	key := make([]byte, 1024)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	keyPath := c.path("munge", "munge.key")
	os.Remove(keyPath)
	if err := os.WriteFile(keyPath, key, 0o400); err != nil {
		return err
	}
	munged, _ := lookTool("munged")
	out, err := exec.Command(munged, "--key-file="+keyPath, "--socket="+c.mungeSocket(),
		"--pid-file="+c.path("munge", "munged.pid"), "--log-file="+c.path("munge", "munged.log"),
		"--seed-file="+c.path("munge", "munged.seed")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("munged: %v: %s", err, out)
	}
	return nil
}

func (c *Cluster) mungeSocket() string { return c.path("munge", "munge.socket") }

// config is a minimal slurm.conf for this machine: one node, one default partition.
func (c *Cluster) config(ctldPort, slurmdPort int, opt Options) string {
	minJobAge := opt.MinJobAge
	if minJobAge <= 0 {
		minJobAge = 300
	}
	lines := []string{
		"# one-node Slurm of a test run (ordermerge cluster/slurmtest)",
		fmt.Sprintf("ClusterName=om%d", os.Getpid()),
		fmt.Sprintf("SlurmctldHost=%s(127.0.0.1)", c.Node),
		fmt.Sprintf("SlurmctldPort=%d", ctldPort),
		fmt.Sprintf("SlurmdPort=%d", slurmdPort),
		"SlurmUser=root",
		"SlurmdUser=root",
		"AuthType=auth/munge",
		"CredType=cred/munge",
		"AuthInfo=socket=" + c.mungeSocket(),
		"StateSaveLocation=" + c.path("state"),
		"SlurmdSpoolDir=" + c.path("spool"),
		"SlurmctldPidFile=" + c.path("slurmctld.pid"),
		"SlurmdPidFile=" + c.path("slurmd.pid"),
		"SlurmctldLogFile=" + c.path("log", "slurmctld.log"),
		"SlurmdLogFile=" + c.path("log", "slurmd.log"),
		"ProctrackType=proctrack/linuxproc",
		"TaskPlugin=task/none",
		"SelectType=select/cons_tres",
		"SelectTypeParameters=CR_Core",
		"ReturnToService=2",
		"MpiDefault=none",
		"JobAcctGatherType=jobacct_gather/none",
		"AccountingStorageType=accounting_storage/none",
		"SchedulerType=sched/backfill",
		"MailProg=/bin/true",
		"SlurmctldTimeout=30",
		"SlurmdTimeout=30",
		"InactiveLimit=0",
		"KillWait=5",
		fmt.Sprintf("MinJobAge=%d", minJobAge),
		fmt.Sprintf("NodeName=%s NodeAddr=127.0.0.1 CPUs=%d RealMemory=1000 State=UNKNOWN", c.Node, runtime.NumCPU()),
		// Jobs of the default partition are preempted (and requeued) by jobs of the urgent one.
		"PreemptType=preempt/partition_prio",
		"PreemptMode=REQUEUE",
		"PartitionName=" + DefaultPartition + " Nodes=ALL Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE",
		"PartitionName=" + UrgentPartition + " Nodes=ALL MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF",
	}
	return strings.Join(lines, "\n") + "\n"
}

// daemon starts slurmctld or slurmd (each daemonizes itself).
func (c *Cluster) daemon(name string) error {
	bin, _ := lookTool(name)
	cmd := exec.Command(bin, "-f", c.Conf)
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s%s", name, err, out, c.logTail(name))
	}
	return nil
}

// Run runs a Slurm command against the cluster and returns its output.
func (c *Cluster) Run(name string, args ...string) (string, error) {
	bin, err := lookTool(name)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

func (c *Cluster) waitIdle(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		// One line per partition of the node.
		out, err := c.Run("sinfo", "-h", "-N", "-o", "%T")
		last = strings.TrimSpace(out)
		ready := err == nil && last != ""
		for _, state := range strings.Fields(last) {
			ready = ready && (state == "idle" || state == "mixed")
		}
		if ready {
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("the node is not idle after %s (sinfo: %q)%s%s", limit, last, c.logTail("slurmctld"), c.logTail("slurmd"))
}

func (c *Cluster) logTail(name string) string {
	b, err := os.ReadFile(c.path("log", name+".log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "\n" + name + ".log:\n  " + strings.Join(lines, "\n  ")
}

// Stop cancels every job, waits for them to end, stops the daemons and removes the folder.
func (c *Cluster) Stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	if c.env != nil {
		if out, err := c.Run("squeue", "-h", "-o", "%A"); err == nil && strings.TrimSpace(out) != "" {
			c.Run("scancel", strings.Fields(out)...)
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				if out, err := c.Run("squeue", "-h", "-o", "%A"); err != nil || strings.TrimSpace(out) == "" {
					break
				}
			}
		}
	}
	c.stopDaemons()
	os.RemoveAll(c.Dir)
}

// stopDaemons ends slurmd, slurmctld and munged by their pid files: SIGTERM to all three,
// then SIGKILL to any still there after 15 seconds.
func (c *Cluster) stopDaemons() {
	pids := map[int]string{}
	for _, pidFile := range []string{c.path("slurmd.pid"), c.path("slurmctld.pid"), c.path("munge", "munged.pid")} {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			c.logf("%s: bad pid %q", pidFile, b)
			continue
		}
		if syscall.Kill(pid, syscall.SIGTERM) == nil {
			pids[pid] = pidFile
		}
		os.Remove(pidFile)
	}
	for deadline := time.Now().Add(15 * time.Second); len(pids) > 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for pid := range pids {
			if !alive(pid) {
				delete(pids, pid)
			}
		}
	}
	for pid, file := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
		c.logf("the daemon of %s (pid %d) did not stop on SIGTERM within 15 s; killed", file, pid)
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err != nil || !strings.Contains(string(st), ") Z ")
}

// freePorts returns n TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
