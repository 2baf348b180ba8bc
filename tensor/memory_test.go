package tensor

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckMemoryListsTheItems(t *testing.T) {
	items := []MemoryItem{{"parameters", 3 << 30}, {"gradients", 3 << 30}, {"activations", 0}}
	if err := CheckMemory("host memory", "train", 6<<30, items); err != nil {
		t.Fatal(err)
	}
	err := CheckMemory("host memory", "train", 5<<30, items)
	want := "not enough host memory to train: it needs at least 6.0 GiB (parameters 3.0 GiB, gradients 3.0 GiB) but 5.0 GiB is available"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if MemoryBytes(1e30, 4) != math.MaxInt64 || MemoryTotal([]MemoryItem{{"a", math.MaxInt64}, {"b", 1}}) != math.MaxInt64 {
		t.Fatal("sizes overflow instead of saturating")
	}
	if err := CheckMemory("host memory", "train", 1<<30, []MemoryItem{{"parameters", math.MaxInt64}}); err == nil || !strings.Contains(err.Error(), "more than 8 EiB") {
		t.Fatalf("saturated: %v", err)
	}
}

func TestHostMemoryAvailableReadsTheSystem(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo")
	}
	avail, err := HostMemoryAvailable()
	if err != nil || avail <= 0 {
		t.Fatalf("available %d, %v", avail, err)
	}
	path := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(path, []byte("MemTotal:       24683664 kB\nMemFree:        22672552 kB\nMemAvailable:   24244324 kB\n"), 0o644)
	if v, err := meminfoAvailable(path); err != nil || v != 24244324*1024 {
		t.Fatalf("meminfo: %d, %v", v, err)
	}
	// The host's memory bounds what any estimate can get.
	err = CheckHostMemory("train", func() ([]MemoryItem, error) { return []MemoryItem{{"parameters", math.MaxInt64}}, nil })
	if err == nil || !strings.HasPrefix(err.Error(), "not enough host memory to train") {
		t.Fatalf("an estimate beyond any host: %v", err)
	}
}
