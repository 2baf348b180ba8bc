package cluster

import (
	"context"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ordermerge/ordermerge/study"
)

// Task states as the status shows them.
const (
	StatePending = "pending"
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// logTailLines is how much of a failed task's log the status shows.
const logTailLines = 12

// TaskStatus is one task of a plan (or the finishing job, Index -1).
type TaskStatus struct {
	Index     int    `json:"index"`
	OrderSeed uint64 `json:"order_seed"`
	// Job is the scheduler's id of the latest attempt ("12_3"; "" if none was submitted).
	Job string `json:"job"`
	// State is pending, running, done or failed.
	State string `json:"state"`
	// Scheduler is the scheduler's own state and reason ("PENDING Resources"), when it knows
	// the job.
	Scheduler string `json:"scheduler,omitempty"`
	// Step, TotalSteps, Epoch, Epochs and Loss come from the variant's progress file (and its
	// checkpoint once done).
	Step       int     `json:"step"`
	TotalSteps int     `json:"total_steps"`
	Epoch      int     `json:"epoch"`
	Epochs     int     `json:"epochs"`
	Loss       float64 `json:"loss"`
	// Detail says in words what the state means (why pending, why failed).
	Detail string `json:"detail,omitempty"`
	// LogTail holds the last lines of the task's log when it failed.
	LogTail []string `json:"log_tail,omitempty"`
}

// Status is the state of every task of a plan and of its finishing job.
type Status struct {
	Out     string       `json:"out"`
	Tasks   []TaskStatus `json:"tasks"`
	Finish  TaskStatus   `json:"finish"`
	Checked time.Time    `json:"checked"`
}

// Live reports whether any job is still pending or running.
func (s *Status) Live() bool {
	for _, t := range append(s.Tasks, s.Finish) {
		if t.State == StatePending || t.State == StateRunning {
			return true
		}
	}
	return false
}

// Finished reports whether nothing more will happen without someone acting: every job ended,
// or the only one left is a finishing job that waits for a task that failed.
func (s *Status) Finished() bool {
	for _, t := range s.Tasks {
		if t.State == StatePending || t.State == StateRunning {
			return false
		}
	}
	return s.Finish.State != StateRunning && (s.Finish.State != StatePending || s.Failed() > 0)
}

// Done reports whether every variant is trained and the finishing job wrote the report.
func (s *Status) Done() bool {
	for _, t := range s.Tasks {
		if t.State != StateDone {
			return false
		}
	}
	return s.Finish.State == StateDone
}

// Failed counts the failed tasks (the finishing job included).
func (s *Status) Failed() int {
	n := 0
	for _, t := range append(s.Tasks, s.Finish) {
		if t.State == StateFailed {
			n++
		}
	}
	return n
}

// Counts returns how many tasks are in each state ("2 done, 1 running").
func (s *Status) Counts() string {
	n := map[string]int{}
	for _, t := range s.Tasks {
		n[t.State]++
	}
	var parts []string
	for _, st := range []string{StateDone, StateRunning, StatePending, StateFailed} {
		if n[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[st], st))
		}
	}
	return strings.Join(parts, ", ")
}

// progressText is a task's step and loss in words.
func (t TaskStatus) progressText() string {
	if t.TotalSteps == 0 {
		return ""
	}
	s := fmt.Sprintf("step %d/%d", t.Step, t.TotalSteps)
	if t.Epochs > 0 {
		s += fmt.Sprintf(" (epoch %d/%d)", t.Epoch, t.Epochs)
	}
	if t.Step > 0 {
		s += fmt.Sprintf(", loss %.4f", t.Loss)
	}
	return s
}

func (t TaskStatus) name() string {
	if t.Index < 0 {
		return "finish"
	}
	return fmt.Sprintf("variant-%d", t.Index)
}

func (t TaskStatus) info() string {
	var parts []string
	if p := t.progressText(); p != "" {
		parts = append(parts, p)
	}
	if t.Detail != "" {
		parts = append(parts, t.Detail)
	}
	return strings.Join(parts, "; ")
}

// Write prints the status as a table, with the log tail under each failed task.
func (s *Status) Write(w io.Writer) error {
	fmt.Fprintf(w, "%s: %d variants: %s; finishing job %s (checked %s)\n", s.Out, len(s.Tasks), s.Counts(), s.Finish.State, s.Checked.Local().Format("15:04:05"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSEED\tJOB\tSTATE\tPROGRESS / DETAIL")
	for _, t := range append(s.Tasks, s.Finish) {
		seed := fmt.Sprint(t.OrderSeed)
		if t.Index < 0 {
			seed = "-"
		}
		job := t.Job
		if job == "" {
			job = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.name(), seed, job, t.State, t.info())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range append(s.Tasks, s.Finish) {
		if t.State == StateFailed && len(t.LogTail) > 0 {
			fmt.Fprintf(w, "\n%s failed; the end of its log:\n", t.name())
			for _, l := range t.LogTail {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
	return nil
}

// String is the status as a table (what a notebook shows as text).
func (s *Status) String() string {
	var b strings.Builder
	s.Write(&b)
	return b.String()
}

// HTML renders the status as a table for a notebook (updated in place while watching).
func (s *Status) HTML() string {
	colour := map[string]string{StateDone: "#2e7d32", StateRunning: "#1565c0", StatePending: "#757575", StateFailed: "#c62828"}
	var b strings.Builder
	fmt.Fprintf(&b, "<p><b>%s</b>: %d variants: %s; finishing job %s <small>(checked %s)</small></p>\n",
		html.EscapeString(s.Out), len(s.Tasks), html.EscapeString(s.Counts()), s.Finish.State, s.Checked.Local().Format("15:04:05"))
	b.WriteString("<table><tr><th>task</th><th>seed</th><th>job</th><th>state</th><th>progress / detail</th></tr>\n")
	for _, t := range append(s.Tasks, s.Finish) {
		seed := fmt.Sprint(t.OrderSeed)
		if t.Index < 0 {
			seed = "–"
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td style=\"color:%s\"><b>%s</b></td><td>%s",
			t.name(), seed, html.EscapeString(t.Job), colour[t.State], t.State, html.EscapeString(t.info()))
		if t.State == StateFailed && len(t.LogTail) > 0 {
			fmt.Fprintf(&b, "<pre style=\"margin:0\">%s</pre>", html.EscapeString(strings.Join(t.LogTail, "\n")))
		}
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("</table>")
	return b.String()
}

// SlurmStatus reads the state of every task of the plan: the scheduler's view (squeue, else
// sacct) of each task's latest attempt, the variant's progress file and checkpoint, and the
// end of the log of a task that failed.
func (s *Slurm) Status(ctx context.Context, p *Plan) (*Status, error) {
	rec, ok, err := ReadRecord(p.Out)
	if err != nil {
		return nil, err
	}
	if !ok {
		rec = &Record{}
	}
	states, err := s.Query(ctx, rec.ids())
	if err != nil {
		return nil, err
	}
	st := &Status{Out: p.Out, Checked: time.Now()}
	for i := 0; i < p.K; i++ {
		t := TaskStatus{Index: i, OrderSeed: p.Seed(i)}
		if i < len(rec.Tasks) {
			t.Job = rec.Tasks[i]
		}
		js, known := states[t.Job]
		if err := taskStatus(&t, p, js, known); err != nil {
			return nil, err
		}
		st.Tasks = append(st.Tasks, t)
	}
	f := TaskStatus{Index: -1, Job: rec.Finish}
	js, known := states[f.Job]
	finishStatus(&f, p, js, known)
	st.Finish = f
	return st, nil
}

// taskStatus fills a task's state from the scheduler's and the variant's files.
func taskStatus(t *TaskStatus, p *Plan, js JobState, known bool) error {
	v, err := ReadVariant(p.VariantDir(t.Index))
	if err != nil {
		return err
	}
	if prog, ok, err := ReadProgress(p.VariantDir(t.Index)); err == nil && ok {
		t.Step, t.TotalSteps, t.Epoch, t.Epochs, t.Loss = prog.Step, prog.TotalSteps, prog.Epoch, prog.Epochs, prog.Loss
	}
	t.Scheduler = js.words()
	switch {
	case known && js.Running():
		t.State = StateRunning
		if t.TotalSteps == 0 {
			t.Detail = "starting"
		}
	case known && js.Live():
		t.State, t.Detail = StatePending, schedulerDetail(js)
	case v.Complete:
		t.State = StateDone
		t.Step, t.TotalSteps = v.Step, v.TotalSteps
		if n := len(v.StepLosses); n > 0 {
			t.Loss = v.StepLosses[n-1].Loss
		}
	default:
		t.State = StateFailed
		switch {
		case t.Job == "":
			t.Detail = "never submitted, and " + v.Problem
		case known:
			t.Detail = fmt.Sprintf("%s, and %s", schedulerDetail(js), v.Problem)
		default:
			t.Detail = "no longer in the queue, and " + v.Problem
		}
		t.Detail += "; `ordermerge status --requeue " + p.Out + "` runs it again from its checkpoint"
		t.LogTail = tail(p.TaskLog(t.Index), logTailLines)
	}
	return nil
}

// finishStatus fills the finishing job's state.
func finishStatus(t *TaskStatus, p *Plan, js JobState, known bool) {
	_, reportErr := os.Stat(filepath.Join(p.Out, ReportDir, study.ResultsFile))
	t.Scheduler = js.words()
	switch {
	case known && js.Running():
		t.State = StateRunning
	case known && js.Live():
		t.State = StatePending
		switch js.Reason {
		case "Dependency":
			t.Detail = "waits for the variants"
		case "DependencyNeverSatisfied":
			t.Detail = "a variant failed; it waits until that variant is requeued"
		default:
			t.Detail = schedulerDetail(js)
		}
	case known && js.State == "COMPLETED" && reportErr == nil, !known && t.Job != "" && reportErr == nil:
		t.State = StateDone
		t.Detail = "report in " + filepath.Join(p.Out, ReportDir)
	case t.Job == "":
		t.State = StateFailed
		t.Detail = "not submitted; `ordermerge status --requeue " + p.Out + "` submits it"
	default:
		t.State = StateFailed
		if known {
			t.Detail = schedulerDetail(js)
		} else {
			t.Detail = "no longer in the queue and no report"
		}
		t.LogTail = tail(p.FinishLogPath(), logTailLines)
	}
}

// schedulerDetail is the scheduler's state and reason of a job, for the detail column.
func schedulerDetail(js JobState) string {
	reason := ""
	if js.Reason != "" && js.Reason != "None" {
		reason = js.Reason
	}
	switch {
	case js.State == "PENDING" && reason != "":
		return "reason: " + reason
	case js.State == "PENDING":
		return ""
	case reason != "":
		return strings.ToLower(js.State) + " (" + reason + ")"
	}
	return strings.ToLower(js.State)
}

// tail returns the last n lines of a file (nothing if it cannot be read).
func tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	const maxRead = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxRead {
		f.Seek(st.Size()-maxRead, io.SeekStart)
	}
	b, _ := io.ReadAll(io.LimitReader(f, maxRead))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
