// Command safetensors measures the streaming safetensors reader and writer against plain file
// I/O on the same bytes, in the same run, each mode in its own process so peak RSS is its own.
//
//	go run ./bench/safetensors -size 1024 -dir /tmp
//
// Modes: plain-write (os.File writes of the same bytes + fsync), write (tensor.Create +
// WriteTensor + Commit), plain-read (the safetensors file read sequentially from the start
// through a buffer the size of the largest tensor), read (the same file tensor by tensor with
// ReadInto, into one reused backing buffer through Reader.ReadBuffer). Reads run from the page
// cache: the file is read once before timing.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ordermerge/ordermerge/tensor"
)

func main() {
	sizeMiB := flag.Int("size", 1024, "file size in MiB")
	dir := flag.String("dir", os.TempDir(), "folder for the test files")
	reps := flag.Int("reps", 3, "repetitions per mode (the median is reported)")
	mode := flag.String("mode", "", "internal: run one mode and print seconds and max RSS")
	flag.Parse()
	specs := layout(*sizeMiB)
	ours := filepath.Join(*dir, "bench-ours.safetensors")
	plain := filepath.Join(*dir, "bench-plain.bin")
	if *mode != "" {
		secs, err := runMode(*mode, specs, ours, plain)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%f %d\n", secs, peakRSSKiB())
		return
	}
	defer os.Remove(ours)
	defer os.Remove(plain)
	var largest int64
	for _, s := range specs {
		n, _ := tensor.ByteSize(s.DType, s.Shape)
		largest = max(largest, n)
	}
	fmt.Printf("file %d MiB in %d tensors (largest %.0f MiB), %d reps, median\n", *sizeMiB, len(specs), float64(largest)/(1<<20), *reps)
	// Modes alternate within each repetition so that background load and disk state affect
	// ours and the plain peer alike.
	modes := []string{"plain-write", "write", "plain-read", "read"}
	times := map[string][]float64{}
	rss := map[string]float64{}
	for i := 0; i < *reps; i++ {
		for _, m := range modes {
			out, err := exec.Command(os.Args[0], "-mode", m, "-size", strconv.Itoa(*sizeMiB), "-dir", *dir).Output()
			if err != nil {
				fmt.Fprintln(os.Stderr, m, err)
				os.Exit(1)
			}
			f := strings.Fields(string(out))
			s, _ := strconv.ParseFloat(f[0], 64)
			r, _ := strconv.ParseFloat(f[1], 64)
			times[m] = append(times[m], s)
			rss[m] = max(rss[m], r/1024)
		}
	}
	results := map[string][2]float64{}
	for _, m := range modes {
		ts := times[m]
		sort.Float64s(ts)
		results[m] = [2]float64{float64(*sizeMiB) / 1024 / ts[len(ts)/2], rss[m]}
		fmt.Printf("%-12s %6.2f GiB/s  peak RSS %6.1f MiB\n", m, results[m][0], rss[m])
	}
	fmt.Printf("write: %.0f%% of plain write; read: %.0f%% of plain read\n",
		100*results["write"][0]/results["plain-write"][0], 100*results["read"][0]/results["plain-read"][0])
}

// layout mimics a model: many 8-32 MiB matrices plus small vectors, in BF16 and F32.
func layout(sizeMiB int) []tensor.Spec {
	var specs []tensor.Spec
	var total int64
	for i := 0; total < int64(sizeMiB)<<20; i++ {
		rows := 2048 << (i % 3) // 8, 16, 32 MiB in F32
		dt := tensor.BF16
		if i%2 == 0 {
			dt = tensor.F32
		}
		s := tensor.Spec{Name: fmt.Sprintf("model.layers.%d.weight", i), DType: dt, Shape: []int{rows, 1024}}
		n, _ := tensor.ByteSize(dt, s.Shape)
		if total+n > int64(sizeMiB)<<20 {
			n = int64(sizeMiB)<<20 - total
			s = tensor.Spec{Name: s.Name, DType: tensor.U8, Shape: []int{int(n)}}
		}
		specs = append(specs, s, tensor.Spec{Name: fmt.Sprintf("model.layers.%d.norm", i), DType: tensor.F32, Shape: []int{0}})
		total += n
	}
	return specs
}

func runMode(mode string, specs []tensor.Spec, ours, plain string) (float64, error) {
	var largest int64
	var total int64
	for _, s := range specs {
		n, _ := tensor.ByteSize(s.DType, s.Shape)
		largest = max(largest, n)
		total += n
	}
	// One buffer for every mode, touched before timing; 63 spare bytes let the tensor reads
	// align it to each tensor's file offset (Reader.ReadBuffer).
	backing := make([]byte, largest+63)
	for i := range backing {
		backing[i] = byte(i * 31)
	}
	buf := backing[:largest]
	// Both writers start from no file at all: replacing an existing file would add the cost of
	// freeing its blocks to one side only.
	if mode == "plain-write" {
		os.Remove(plain)
	} else if mode == "write" {
		os.Remove(ours)
	}
	start := time.Now()
	switch mode {
	case "plain-write":
		f, err := os.Create(plain)
		if err != nil {
			return 0, err
		}
		for _, s := range specs {
			n, _ := tensor.ByteSize(s.DType, s.Shape)
			if _, err := f.Write(buf[:n]); err != nil {
				return 0, err
			}
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		if err := f.Close(); err != nil {
			return 0, err
		}
	case "write":
		w, err := tensor.Create(ours, specs, map[string]string{"format": "pt"})
		if err != nil {
			return 0, err
		}
		for _, s := range specs {
			n, _ := tensor.ByteSize(s.DType, s.Shape)
			if err := w.WriteTensor(s.Name, buf[:n]); err != nil {
				return 0, err
			}
		}
		if err := w.Commit(); err != nil {
			return 0, err
		}
	case "plain-read", "read":
		// Both read the same file, the safetensors file written by the "write" mode.
		path := ours
		if err := warm(path); err != nil {
			return 0, err
		}
		start = time.Now()
		if mode == "plain-read" {
			f, err := os.Open(path)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			// The same buffer size as the tensor reads: the comparison isolates our overhead.
			if _, err := io.CopyBuffer(discard{}, onlyReader{f}, buf); err != nil {
				return 0, err
			}
			break
		}
		r, err := tensor.Open(path)
		if err != nil {
			return 0, err
		}
		defer r.Close()
		for _, e := range r.Entries() {
			dst, _ := r.ReadBuffer(e.Name, backing)
			if err := r.ReadInto(e.Name, dst); err != nil {
				return 0, err
			}
		}
	default:
		return 0, fmt.Errorf("unknown mode %q", mode)
	}
	return time.Since(start).Seconds(), nil
}

// peakRSSKiB reads VmHWM (the process's own peak resident set) from /proc/self/status.
// getrusage's maxrss is not used: on Linux a child's maxrss includes the parent's resident set
// at the fork.
func peakRSSKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return -1
}

// onlyReader and discard hide WriterTo and ReaderFrom (io.Discard has one, with an 8 KiB
// buffer) so io.CopyBuffer really reads through the given buffer.
type onlyReader struct{ io.Reader }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(discard{}, onlyReader{f}, make([]byte, 1<<20))
	return err
}
