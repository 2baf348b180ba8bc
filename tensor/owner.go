package tensor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// owner identifies the process that made a temporary file or folder, so that a later run can
// tell a temporary of a dead process (garbage from a kill or a crash: removed) from one of a
// live process (work in progress: never touched). The identity is written into the temporary's
// name, ".OUT.tmp-HOST-PID-START-RANDOM": the host (an output folder on a shared file system is
// seen by processes of several machines; a PID means nothing on another host), the PID, and
// the process's start time, so a PID reused by an unrelated later process is not mistaken for
// the owner.
type owner struct {
	host  string
	pid   int
	start uint64 // start time in clock ticks since boot (Linux); 0 where unknown
}

// self is the calling process.
func self() owner {
	pid := os.Getpid()
	return owner{host: hostToken(), pid: pid, start: processStart(pid)}
}

// hostToken is the host name reduced to characters that cannot be confused with the token's
// separators.
func hostToken() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	var b strings.Builder
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	return b.String()
}

// token is the owner as it appears in names: HOST-PID-START.
func (o owner) token() string { return fmt.Sprintf("%s-%d-%d", o.host, o.pid, o.start) }

// parseOwner reads the owner from the tail of a temporary's name: after the given prefix come
// HOST-PID-START-RANDOM (RANDOM may be absent, as in lock files' contents).
func parseOwner(rest string) (owner, bool) {
	f := strings.Split(rest, "-")
	if len(f) < 4 {
		return owner{}, false
	}
	start, err1 := strconv.ParseUint(f[len(f)-2], 10, 64)
	pid, err2 := strconv.Atoi(f[len(f)-3])
	host := strings.Join(f[:len(f)-3], "-")
	if err1 != nil || err2 != nil || pid <= 0 || host == "" {
		return owner{}, false
	}
	return owner{host: host, pid: pid, start: start}, true
}

// alive reports whether the owner may still be running. Only a process of this host can be
// checked; one of another host counts as alive, so its work is never removed from here.
func (o owner) alive() bool {
	if o.host != hostToken() {
		return true
	}
	if o.pid == os.Getpid() {
		return o.start == processStart(o.pid)
	}
	if !processExists(o.pid) {
		return false
	}
	// A process with that PID runs; it is the owner only if it started when the owner did.
	if o.start != 0 {
		if s := processStart(o.pid); s != 0 && s != o.start {
			return false
		}
	}
	return true
}
