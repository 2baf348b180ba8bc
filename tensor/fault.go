package tensor

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

// Crash tests kill a run at each step of writing an output and check what a later run finds.
// They do it through these hooks instead of timing, so every step is hit, every time.
//
// Only test binaries read the variables below (testing.Testing is false in every program built
// with 'go build', so nothing in a user's environment can make ordermerge kill itself or skip
// the atomic exchange). A build tag would do the same, but the command's crash tests would then
// need a second build of the whole tree; with testing.Testing the test binary of cmd/ordermerge
// runs itself as the command.
const (
	// faultTraceEnv names a file to which every fault point reached is appended, one name per
	// line (the list of steps a crash test then kills at, one by one).
	faultTraceEnv = "ORDERMERGE_TEST_FAULT_TRACE"
	// faultEnv is NAME#N: at the N-th time point NAME is reached (counted in the trace, which
	// must be set), the process kills itself with SIGKILL; NAME#N:stop stops it (SIGSTOP)
	// instead, so that a test can look at a run caught in the middle.
	faultEnv = "ORDERMERGE_TEST_FAULT"
	// noExchangeEnv set to 1 makes replacements take the fallback path (rename aside, rename
	// into place) that file systems without an atomic exchange get.
	noExchangeEnv = "ORDERMERGE_TEST_NO_EXCHANGE"
)

// faultPoint marks a step at which a crash test may stop the process (see faultEnv).
func faultPoint(name string) {
	if !testing.Testing() {
		return
	}
	trace := os.Getenv(faultTraceEnv)
	if trace == "" {
		return
	}
	f, err := os.OpenFile(trace, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		panic(fmt.Sprintf("fault trace %s: %v", trace, err))
	}
	fmt.Fprintln(f, name)
	f.Close()
	target, stop := strings.CutSuffix(os.Getenv(faultEnv), ":stop")
	point, _, _ := strings.Cut(target, "#")
	if point != name {
		return
	}
	b, _ := os.ReadFile(trace)
	n := bytes.Count(append([]byte("\n"), b...), []byte("\n"+name+"\n"))
	if target != fmt.Sprintf("%s#%d", name, n) {
		return
	}
	faultStop(stop)
}

// exchangeDisabled reports whether a crash test asked for the fallback path (noExchangeEnv).
func exchangeDisabled() bool {
	return testing.Testing() && os.Getenv(noExchangeEnv) == "1"
}
