package session

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"time"
	_ "unsafe" // for go:linkname

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

// Every evaluation of cell code goes through execute, not through yaegi's ExecuteWithContext
// or EvalWithContext. Those return as soon as the context is cancelled, while the goroutine
// that evaluates is still running: blocked in a compiled call (time.Sleep, a training step),
// or unwinding. The next evaluation then resets the global frame's run id, which revives
// the old goroutine: the rest of the interrupted cell ran after all, into the next cell's
// output, and the two goroutines raced on the interpreter's state.
//
// execute runs yaegi's synchronous Execute on a goroutine of its own, so the session knows
// when it has really finished. An interrupt stops the interpreter the way yaegi's own
// cancellation does (yaegiStop: a new run id, so no further statement of the old run
// executes, and its cancellation channel closed, so channel operations give up) and returns
// at once; the next evaluation (settle) first waits for the old goroutine to return from its
// compiled call and unwind. Nothing of the interrupted cell runs after the interrupt point.

// yaegiStop is yaegi's (*Interpreter).stop: it increments the run id and closes the channel
// that ExecuteWithContext created for the evaluation. It must be called once per such
// channel. yaegi v0.16.1 exports no other way to stop an evaluation without abandoning it;
// the build fails here if a newer yaegi renames it.
//
//go:linkname yaegiStop github.com/traefik/yaegi/interp.(*Interpreter).stop
func yaegiStop(*interp.Interpreter)

// evaluation is one run of yaegi's Execute on its own goroutine.
type evaluation struct {
	done    chan struct{} // closed when Execute has returned and after has run
	stopped bool          // yaegiStop was called for it (guarded by Session.mu)
	// after is what the session does once the evaluation has ended (whenSettled); finished
	// is set when the goroutine takes no more of it. Both guarded by Session.mu.
	after    []func()
	finished bool
}

// prepareStop gives the coming evaluation a fresh cancellation channel: yaegi creates it only
// in ExecuteWithContext, here run on an empty program. Waiting for that call also orders its
// write of the channel before any later yaegiStop.
func (s *Session) prepareStop() error {
	if s.noop == nil {
		p, err := s.it.Compile(";")
		if err != nil {
			return fmt.Errorf("prepare evaluation: %w", err)
		}
		s.noop = p
	}
	if _, err := s.it.ExecuteWithContext(context.Background(), s.noop); err != nil {
		return fmt.Errorf("prepare evaluation: %w", err)
	}
	return nil
}

// execute runs a compiled program. Cancelling ctx stops it and returns ctx's error at once;
// the program's goroutine may still be inside a compiled call, and settle waits for it.
func (s *Session) execute(ctx context.Context, prog *interp.Program) (reflect.Value, error) {
	if err := s.settle(ctx, nil); err != nil {
		return reflect.Value{}, err
	}
	if err := s.prepareStop(); err != nil {
		return reflect.Value{}, err
	}
	ev := &evaluation{done: make(chan struct{})}
	var v reflect.Value
	var err error
	s.mu.Lock()
	s.eval = ev
	s.mu.Unlock()
	go func() {
		defer close(ev.done)
		v, err = s.it.Execute(prog)
		for {
			s.mu.Lock()
			after := ev.after
			ev.after = nil
			ev.finished = len(after) == 0
			s.mu.Unlock()
			if len(after) == 0 {
				return
			}
			for _, f := range after {
				f()
			}
		}
	}()
	select {
	case <-ev.done:
		return v, err
	case <-ctx.Done():
		s.stopEval(ev)
		return reflect.Value{}, ctx.Err()
	}
}

// whenSettled runs fn once the last evaluation has ended: at once if it has, otherwise on
// its goroutine when it returns (an interrupted cell's bookkeeping must not touch the
// interpreter while the cell's compiled call is still running). The next evaluation, and
// Settle, wait for it.
func (s *Session) whenSettled(fn func()) {
	s.mu.Lock()
	ev := s.eval
	if ev != nil && !ev.finished {
		ev.after = append(ev.after, fn)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	if ev != nil {
		<-ev.done
	}
	fn()
}

// stopEval stops ev, once.
func (s *Session) stopEval(ev *evaluation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.stopped {
		return
	}
	ev.stopped = true
	yaegiStop(s.it)
}

// evalCtx is EvalWithContext through execute.
func (s *Session) evalCtx(ctx context.Context, src string) (reflect.Value, error) {
	prog, err := s.compile(src)
	if err != nil {
		return reflect.Value{}, err
	}
	return s.execute(ctx, prog)
}

// waitNotice is how long settle waits before it tells the cell why it does not start yet.
const waitNotice = 300 * time.Millisecond

// settle waits until the goroutine of an earlier, interrupted evaluation has returned. When
// that takes longer than waitNotice and note is not nil, it says so on note. A cancelled ctx
// ends the wait with ctx's error (the new cell is interrupted before it started).
func (s *Session) settle(ctx context.Context, note io.Writer) error {
	ev := s.pending()
	if ev == nil {
		return nil
	}
	t := time.NewTimer(waitNotice)
	defer t.Stop()
	for {
		select {
		case <-ev.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if note != nil {
				fmt.Fprintln(note, "(waiting for the interrupted cell's compiled call to return; nothing after its interrupt point runs)")
			}
		}
	}
}

// Settle waits until the interpreter is free: an interrupted cell returns at once, but a
// compiled call it made (time.Sleep, a training step that does not watch its context) goes
// on until it returns, and the interpreter cannot run anything else meanwhile. Execute
// settles by itself; a caller that redirects process-level output to the next cell
// settles first, so the old call's last output does not land there. A note is written to
// note (when not nil) if the wait is long. It returns ctx's error when ctx ends first.
func (s *Session) Settle(ctx context.Context, note io.Writer) error {
	return s.settle(ctx, note)
}

// Busy reports whether an interrupted cell's evaluation is still running (see Settle).
func (s *Session) Busy() bool { return s.pending() != nil }

// pending returns the last evaluation if it is still running.
func (s *Session) pending() *evaluation {
	s.mu.Lock()
	ev := s.eval
	s.mu.Unlock()
	if ev == nil {
		return nil
	}
	select {
	case <-ev.done:
		return nil
	default:
		return ev
	}
}

// LanguageVersion is the Go version the interpreter implements, as kernel_info reports it:
// the newest release whose standard library yaegi's tables hold (they are generated per Go
// release; yaegi v0.16.1's are Go 1.22's, and it lacks Go 1.23's range over functions). The
// kernel's rewrites fill Go 1.21's and 1.22's gaps (min, max, clear, range over integers).
func LanguageVersion() string {
	for _, v := range []struct{ pkg, version string }{
		{"iter/iter", "1.23"},
		{"math/rand/v2/rand", "1.22"},
		{"log/slog/slog", "1.21"},
	} {
		if _, ok := stdlib.Symbols[v.pkg]; ok {
			return v.version
		}
	}
	return "1.20"
}
