package tensor

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// MemoryItem is one part of what a piece of work needs: parameters, gradients, optimizer
// moments, activations, ...
type MemoryItem struct {
	What  string
	Bytes int64
}

// MemoryEstimate lists what a piece of work will allocate, before it allocates anything. The
// same estimate can be checked against host memory (CheckHostMemory) or, by its caller,
// against a device's.
type MemoryEstimate func() ([]MemoryItem, error)

// MemoryBytes returns count elements of size bytes each, saturating at math.MaxInt64 instead
// of overflowing (a config asking for absurd sizes must give an absurd estimate, not a small
// or negative one).
func MemoryBytes(count, size float64) int64 {
	v := count * size
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// MemoryTotal adds the items up, saturating.
func MemoryTotal(items []MemoryItem) int64 {
	var t int64
	for _, it := range items {
		if t > math.MaxInt64-it.Bytes {
			return math.MaxInt64
		}
		t += it.Bytes
	}
	return t
}

// CheckMemory reports whether the items fit into available bytes of the named memory ("host
// memory", "GPU 0 memory"): nil if they do, else an error with every item's size.
func CheckMemory(memory, work string, available int64, items []MemoryItem) error {
	need := MemoryTotal(items)
	if need <= available {
		return nil
	}
	parts := make([]string, 0, len(items))
	for _, it := range items {
		if it.Bytes > 0 {
			parts = append(parts, it.What+" "+formatMemory(it.Bytes))
		}
	}
	return fmt.Errorf("not enough %s to %s: it needs at least %s (%s) but %s is available",
		memory, work, formatMemory(need), strings.Join(parts, ", "), formatMemory(available))
}

func formatMemory(n int64) string {
	if n == math.MaxInt64 {
		return "more than 8 EiB"
	}
	return FormatBytes(n)
}

// CheckHostMemory runs the estimate and checks it against HostMemoryAvailable. Where the
// available memory cannot be read (no /proc/meminfo), only the estimate's own errors count.
func CheckHostMemory(work string, estimate MemoryEstimate) error {
	items, err := estimate()
	if err != nil {
		return err
	}
	avail, err := HostMemoryAvailable()
	if err != nil {
		return nil
	}
	return CheckMemory("host memory", work, avail, items)
}

// HostMemoryAvailable returns how many bytes this process can still allocate: MemAvailable of
// /proc/meminfo (free memory plus what the kernel can reclaim), lowered to the room left under
// the cgroup's memory limit when one is set (a container, a Slurm job, a Kubernetes pod).
func HostMemoryAvailable() (int64, error) {
	avail, err := meminfoAvailable("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	if room, ok := cgroupRoom(); ok && room < avail {
		avail = room
	}
	return avail, nil
}

func meminfoAvailable(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: MemAvailable %q: %w", path, rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("%s: no MemAvailable line", path)
}

// cgroupRoom is the memory limit of this process's cgroup minus its usage (cgroup v2, else
// v1); false when there is no limit or it cannot be read.
func cgroupRoom() (int64, bool) {
	read := func(p string) (int64, bool) {
		b, err := os.ReadFile(p)
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return v, err == nil
	}
	for _, pair := range [][2]string{
		{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
		{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"},
	} {
		limit, ok1 := read(pair[0]) // "max" (no limit) does not parse
		used, ok2 := read(pair[1])
		if ok1 && ok2 && limit < 1<<60 {
			return max(limit-used, 0), true
		}
	}
	return 0, false
}
