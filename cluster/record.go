package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ordermerge/ordermerge/tensor"
)

// JobsFile (under OUT/slurm) records which job ran which task.
const (
	JobsFile = "jobs.json"
	lockFile = ".ordermerge-submit.lock"
)

// Record is OUT/slurm/jobs.json: the job id of every task's latest attempt and of the
// finishing job, and what was done when.
type Record struct {
	Scheduler string `json:"scheduler"`
	// Tasks holds, per variant, the job id of its latest attempt ("ARRAY_INDEX"), or "" when
	// none was submitted (the variant was already complete).
	Tasks []string `json:"tasks"`
	// Finish is the finishing job's id.
	Finish string `json:"finish"`
	// Events lists the submissions, requeues and cancellations, oldest first.
	Events []RecordEvent `json:"events"`
}

// RecordEvent is one action on the plan's jobs.
type RecordEvent struct {
	Time time.Time `json:"time"`
	What string    `json:"what"`
}

func recordPath(out string) string { return filepath.Join(out, SlurmDir, JobsFile) }

// ReadRecord reads OUT/slurm/jobs.json; ok is false when nothing was submitted to Slurm.
func ReadRecord(out string) (r *Record, ok bool, err error) {
	b, err := os.ReadFile(recordPath(out))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	r = &Record{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, false, fmt.Errorf("%s: %w", recordPath(out), err)
	}
	return r, true, nil
}

func (r *Record) save(out string) error {
	if err := os.MkdirAll(filepath.Dir(recordPath(out)), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return tensor.WriteFileAtomic(recordPath(out), append(b, '\n'))
}

func (r *Record) note(format string, args ...any) {
	r.Events = append(r.Events, RecordEvent{Time: time.Now().UTC().Truncate(time.Second), What: fmt.Sprintf(format, args...)})
}

// since returns what the events from index i on say.
func (r *Record) since(i int) []string {
	var out []string
	for _, e := range r.Events[i:] {
		out = append(out, e.What)
	}
	return out
}

// ids returns every job id of the record (tasks and finishing job).
func (r *Record) ids() []string {
	var out []string
	for _, id := range r.Tasks {
		if id != "" {
			out = append(out, id)
		}
	}
	if r.Finish != "" {
		out = append(out, r.Finish)
	}
	return out
}

// taskIDs formats array job id and indices as task ids.
func taskIDs(array string, indices []int) []string {
	out := make([]string, len(indices))
	for i, idx := range indices {
		out[i] = array + "_" + strconv.Itoa(idx)
	}
	return out
}

// outLock is an exclusive lock on an output folder, held while jobs are submitted, requeued
// or cancelled, so two of these never interleave. The kernel drops it if the process dies.
type outLock struct{ f *os.File }

func lockOut(out string) (*outLock, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(out, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: another ordermerge (%s) is submitting or changing jobs of this folder right now; try again when it is done", out, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	f.Truncate(0)
	host, _ := os.Hostname()
	fmt.Fprintf(f, "pid %d on %s", os.Getpid(), host)
	return &outLock{f}, nil
}

func (l *outLock) unlock() {
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
