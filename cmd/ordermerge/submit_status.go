package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ordermerge/ordermerge/cluster"
	"golang.org/x/term"
)

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", stderr)
	watch := fs.Bool("watch", false, "keep reading the status until every job has ended (Ctrl-C stops watching, not the jobs)")
	every := fs.Duration("every", 10*time.Second, "how often --watch reads the status")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	requeue := fs.Bool("requeue", false, "first run every failed, cancelled or timed-out task again (it resumes from its checkpoint) and resubmit the finishing job if needed")
	cancel := fs.Bool("cancel", false, "first cancel every queued and running job of DIR (checkpoints stay; submitting again resumes them)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ordermerge status [--watch] [--json] [--requeue | --cancel] DIR")
		fmt.Fprintln(stderr, "")
		fmt.Fprintln(stderr, "Shows every order variant submitted into DIR (ordermerge submit slurm): pending, running (step,")
		fmt.Fprintln(stderr, "loss), done or failed (with the end of its log), and the finishing job. It reads squeue, sacct")
		fmt.Fprintln(stderr, "and each variant's progress file.")
		fmt.Fprintln(stderr, "")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give the output folder of a submission (one argument)")
	}
	if *requeue && *cancel {
		return usagef("--requeue and --cancel do opposite things; give one")
	}
	job, err := cluster.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	if *cancel {
		ids, err := job.Cancel(ctx)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			fmt.Fprintln(stdout, "no live job to cancel")
		} else {
			fmt.Fprintf(stdout, "cancelled %s\n", strings.Join(ids, " "))
		}
	}
	if *requeue {
		did, err := job.Requeue(ctx)
		for _, d := range did {
			fmt.Fprintln(stdout, d)
		}
		if err != nil {
			return err
		}
		if len(did) == 0 {
			fmt.Fprintln(stdout, "nothing to requeue")
		}
	}
	show := func(st *cluster.Status) error {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}
		return st.Write(stdout)
	}
	if !*watch {
		st, err := job.Status(ctx)
		if err != nil {
			return err
		}
		return show(st)
	}
	tty := false
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !*asJSON {
		tty = true
	}
	var lines int
	var last string
	st, err := job.Watch(ctx, *every, func(st *cluster.Status) {
		text := st.String()
		switch {
		case tty:
			// Redraw the table in place: up over the previous one, clear to the end.
			if lines > 0 {
				fmt.Fprintf(stdout, "\x1b[%dA\x1b[J", lines)
			}
			fmt.Fprint(stdout, text)
			lines = strings.Count(text, "\n")
		case *asJSON:
			show(st)
		default:
			// On a file or a pipe, print the table again only when something changed.
			body := text[strings.Index(text, "\n")+1:]
			if body != last {
				fmt.Fprint(stdout, text)
				fmt.Fprintln(stdout)
				last = body
			}
		}
	})
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "stopped watching; the jobs go on")
		return nil
	}
	if err != nil {
		return err
	}
	if !st.Done() {
		return fmt.Errorf("%d job(s) failed; `ordermerge status --requeue %s` runs them again from their checkpoints", st.Failed(), job.Plan.Out)
	}
	return nil
}
