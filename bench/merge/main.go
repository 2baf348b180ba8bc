// Command merge measures `ordermerge merge` against the I/O bound of the same merge, in the
// same run: reading the K input checkpoints plainly (sequential reads, 8 MiB buffer) plus
// writing one output of the same size plainly (sequential writes + fsync), through the page
// cache and with O_DIRECT, whichever was faster (the merge writes with O_DIRECT where it can). It also records
// the merge's peak RSS (the child process's max RSS), so runs at two model sizes show whether
// memory grows with the model.
//
//	go build -o /tmp/ordermerge ./cmd/ordermerge
//	go run ./bench/merge -bin /tmp/ordermerge -size 1GiB -dtypes bf16,f32 -dir /tmp
//
// The inputs are K Llama-shaped checkpoints (hidden 2048, intermediate 5632, vocab 32000, as
// many layers as fit the size) derived from one random base: each variant moves 50% of the
// elements, so about half of every model equals the base, as small updates do in bf16.
// By default the inputs are read once before timing (warm page cache, which fits: 3 x 1 GiB);
// -cold evicts them (fadvise DONTNEED) before every timed step instead. Timed steps alternate
// (bound, then each method) and repeat -reps times; the median is reported. Everything it
// writes is removed at the end.
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ordermerge/ordermerge/merge"
	"github.com/ordermerge/ordermerge/tensor"
)

func main() {
	bin := flag.String("bin", "ordermerge", "the ordermerge binary to measure")
	dir := flag.String("dir", os.TempDir(), "folder for the generated checkpoints")
	sizeFlag := flag.String("size", "1GiB", "size of each input checkpoint")
	dtypes := flag.String("dtypes", "bf16,f32", "dtypes to measure")
	methods := flag.String("methods", "linear,parameter_selection", "merges to time, comma-separated; each a method and optional flags (\"parameter_selection --resample\")")
	withBase := flag.Bool("base", false, "also write the base checkpoint and pass it to every merge (--base)")
	k := flag.Int("k", 3, "number of models merged")
	reps := flag.Int("reps", 3, "repetitions of each timed step (median reported)")
	best := flag.Bool("best", false, "report the best (shortest) repetition of each step instead of the median")
	cold := flag.Bool("cold", false, "evict the inputs from the page cache before every timed step")
	keep := flag.Bool("keep", false, "keep the generated checkpoints (their folder is printed) instead of removing them")
	extra := flag.String("args", "", "extra flags for ordermerge merge, space-separated (e.g. \"--max-memory 512MiB\")")
	flag.Parse()
	size, err := parseSize(*sizeFlag)
	if err != nil {
		fail(err)
	}
	work, err := os.MkdirTemp(*dir, "mergebench-")
	if err != nil {
		fail(err)
	}
	if *keep {
		defer fmt.Printf("kept the checkpoints under %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	load0 := loadAvg()
	fmt.Printf("ordermerge merge benchmark: %d x %s per input, %d CPUs, load average %s, %s cache, %s of %d\n\n",
		*k, *sizeFlag, runtime.NumCPU(), load0, map[bool]string{true: "cold", false: "warm"}[*cold], map[bool]string{true: "best", false: "median"}[*best], *reps)
	fmt.Println("| dtype | input bytes | step | seconds | of I/O bound | MB/s (in+out) | peak RSS |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, name := range strings.Split(*dtypes, ",") {
		dt, err := tensor.ParseDType(name)
		if err != nil {
			fail(err)
		}
		dtDir := filepath.Join(work, dt.String())
		models, total, err := generate(dtDir, dt, size, *k, *withBase)
		if err != nil {
			fail(err)
		}
		var basePath string
		if *withBase {
			basePath, models = models[0], models[1:]
		}
		var files []string
		for _, m := range append([]string{basePath}, models...) {
			if m == "" {
				continue
			}
			fs, _ := filepath.Glob(filepath.Join(m, "*.safetensors"))
			files = append(files, fs...)
		}
		outBytes := total / int64(*k)
		// Before every timed step: write back what earlier steps left dirty, so that no step
		// pays for another's writes.
		prime := func() {
			unix.Sync()
			if *cold {
				evict(files)
			}
		}
		if !*cold {
			if _, err := readPlain(files); err != nil { // warm the cache once
				fail(err)
			}
		}
		timesBound, timesRead, timesWrite, timesDirect := []float64{}, []float64{}, []float64{}, []float64{}
		merge := map[string][]float64{}
		rss := map[string]int64{}
		for r := 0; r < *reps; r++ {
			prime()
			rd, err := readPlain(files)
			if err != nil {
				fail(err)
			}
			wr, err := writePlain(filepath.Join(dtDir, "plain-out.bin"), outBytes, false)
			if err != nil {
				fail(err)
			}
			prime()
			wd, err := writePlain(filepath.Join(dtDir, "plain-out.bin"), outBytes, true)
			if err != nil {
				fail(err)
			}
			// The bound writes the faster way: the merge writes with O_DIRECT where it can.
			timesRead, timesWrite, timesDirect = append(timesRead, rd), append(timesWrite, wr), append(timesDirect, wd)
			timesBound = append(timesBound, rd+min(wr, wd))
			for _, m := range strings.Split(*methods, ",") {
				prime()
				secs, maxRSS, err := runMerge(*bin, m, basePath, models, filepath.Join(dtDir, "merged"), strings.Fields(*extra))
				if err != nil {
					fail(err)
				}
				merge[m] = append(merge[m], secs)
				rss[m] = max(rss[m], maxRSS)
			}
		}
		pick := median
		if *best {
			pick = minimum
		}
		bound := pick(timesBound)
		mb := func(secs float64) string { return fmt.Sprintf("%.0f", float64(total+outBytes)/secs/1e6) }
		fmt.Printf("| %s | %s | plain read of the inputs | %.2f | | %.0f (in) | |\n", dt, human(total), pick(timesRead), float64(total)/pick(timesRead)/1e6)
		fmt.Printf("| %s | %s | plain write of the output (+fsync) | %.2f | | %.0f (out) | |\n", dt, human(total), pick(timesWrite), float64(outBytes)/pick(timesWrite)/1e6)
		fmt.Printf("| %s | %s | direct write of the output (O_DIRECT, +fsync) | %.2f | | %.0f (out) | |\n", dt, human(total), pick(timesDirect), float64(outBytes)/pick(timesDirect)/1e6)
		fmt.Printf("| %s | %s | **I/O bound** (read + the faster write) | %.2f | 100%% | %s | |\n", dt, human(total), bound, mb(bound))
		for _, m := range strings.Split(*methods, ",") {
			t := pick(merge[m])
			fmt.Printf("| %s | %s | merge %s | %.2f | %.0f%% | %s | %s |\n", dt, human(total), m, t, 100*bound/t, mb(t), human(rss[m]))
		}
		if !*keep {
			os.RemoveAll(dtDir)
		}
	}
	fmt.Printf("\nload average at the end: %s\n", loadAvg())
}

func minimum(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = min(m, x)
	}
	return m
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mergebench:", err)
	os.Exit(1)
}

// generate writes k checkpoints of about size bytes each (preceded by the base when withBase)
// and returns their folders and the models' total tensor bytes.
func generate(dir string, dt tensor.DType, size int64, k int, withBase bool) ([]string, int64, error) {
	const hidden, inter, vocab = 2048, 5632, 32000
	perLayer := int64(4*hidden*hidden + 3*hidden*inter + 2*hidden)
	outer := int64(2*vocab*hidden + hidden)
	elems := size / int64(dt.Size())
	layers := max(1, int((elems-outer+perLayer/2)/perLayer))
	specs := []tensor.Spec{{Name: "model.embed_tokens.weight", DType: dt, Shape: []int{vocab, hidden}}}
	for l := 0; l < layers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		for _, s := range []struct {
			n     string
			shape []int
		}{
			{"input_layernorm.weight", []int{hidden}},
			{"self_attn.q_proj.weight", []int{hidden, hidden}},
			{"self_attn.k_proj.weight", []int{hidden, hidden}},
			{"self_attn.v_proj.weight", []int{hidden, hidden}},
			{"self_attn.o_proj.weight", []int{hidden, hidden}},
			{"post_attention_layernorm.weight", []int{hidden}},
			{"mlp.gate_proj.weight", []int{inter, hidden}},
			{"mlp.up_proj.weight", []int{inter, hidden}},
			{"mlp.down_proj.weight", []int{hidden, inter}},
		} {
			specs = append(specs, tensor.Spec{Name: p + s.n, DType: dt, Shape: s.shape})
		}
	}
	specs = append(specs, tensor.Spec{Name: "model.norm.weight", DType: dt, Shape: []int{hidden}},
		tensor.Spec{Name: "lm_head.weight", DType: dt, Shape: []int{vocab, hidden}})
	cfg := tensor.NewLlamaConfig(hidden, inter, layers, 16, 16, vocab, 2048)
	cfg.TorchDType = dt.TorchName()
	var paths []string
	var total int64
	nw := k
	if withBase {
		nw++
	}
	writers := make([]*tensor.CheckpointWriter, nw)
	for i := range writers {
		name := fmt.Sprintf("order%d", i+1)
		if withBase {
			name = fmt.Sprintf("order%d", i)
			if i == 0 {
				name = "base"
			}
		}
		p := filepath.Join(dir, name)
		w, err := tensor.CreateCheckpoint(p, specs, tensor.CheckpointOptions{MaxShardSize: 2 << 30})
		if err != nil {
			return nil, 0, err
		}
		writers[i] = w
		paths = append(paths, p)
	}
	// Tensors are generated in parallel, each from its own seeded source.
	jobs := make(chan int)
	errs := make(chan error, len(specs))
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				errs <- genTensor(writers, specs[i], uint64(i), withBase)
			}
		}()
	}
	for i := range specs {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, 0, err
		}
	}
	for _, w := range writers {
		if err := w.AddConfig(cfg); err != nil {
			return nil, 0, err
		}
		if err := w.Commit(); err != nil {
			return nil, 0, err
		}
	}
	for _, s := range specs {
		n, _ := tensor.ByteSize(s.DType, s.Shape)
		total += n * int64(k)
	}
	return paths, total, nil
}

func genTensor(writers []*tensor.CheckpointWriter, s tensor.Spec, seed uint64, withBase bool) error {
	numel, _ := tensor.Numel(s.Shape)
	const chunk = 1 << 22
	r := rand.New(rand.NewPCG(seed, 7))
	base := make([]float32, min(chunk, numel))
	v := make([]float32, len(base))
	raw := make([]byte, len(base)*s.DType.Size())
	for off := 0; off < numel; off += chunk {
		n := min(chunk, numel-off)
		for j := range base[:n] {
			base[j] = float32(r.NormFloat64()) * 0.02
		}
		for i, w := range writers {
			copy(v, base[:n])
			for j := range v[:n] {
				if (i > 0 || !withBase) && r.Uint64()&1 == 0 { // half of the elements move
					v[j] += float32(r.NormFloat64()) * 0.002
				}
			}
			if err := tensor.EncodeFloat32(raw[:n*s.DType.Size()], v[:n], s.DType); err != nil {
				return err
			}
			if err := w.WriteChunk(s.Name, int64(off*s.DType.Size()), raw[:n*s.DType.Size()]); err != nil {
				return err
			}
		}
	}
	return nil
}

// readPlain reads every file sequentially with an 8 MiB buffer.
func readPlain(files []string) (float64, error) {
	buf := make([]byte, 8<<20)
	start := time.Now()
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return 0, err
		}
		for {
			_, err := fh.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				fh.Close()
				return 0, err
			}
		}
		fh.Close()
	}
	return time.Since(start).Seconds(), nil
}

// writePlain writes n bytes sequentially with an 8 MiB buffer, fsyncs, and removes the file;
// with direct, through O_DIRECT from a page-aligned buffer (the size rounded up to a page).
func writePlain(path string, n int64, direct bool) (float64, error) {
	back := make([]byte, 8<<20+4096)
	buf := back[4096-int(uintptr(unsafe.Pointer(&back[0]))%4096):][:8<<20]
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	flags := os.O_RDWR | os.O_CREATE | os.O_TRUNC
	if direct {
		flags |= syscall.O_DIRECT
		n = (n + 4095) &^ 4095
	}
	start := time.Now()
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	for left := n; left > 0; {
		m := min(int64(len(buf)), left)
		if _, err := f.Write(buf[:m]); err != nil {
			f.Close()
			return 0, err
		}
		left -= m
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

// runMerge runs one merge in a child process and returns its wall time and max RSS in bytes.
// The RSS comes from /usr/bin/time: the rusage of a child forked by this (large) process would
// include this process's own RSS at the fork.
func runMerge(bin, spec, base string, models []string, out string, extra []string) (float64, int64, error) {
	f := strings.Fields(spec)
	method := f[0]
	args := []string{"merge", "--method", method, "--models", strings.Join(models, ","), "--out", out, "--quiet", "--force"}
	if base != "" {
		args = append(args, "--base", base)
	}
	if info, ok := merge.LookupMethod(method); ok && info.Randomised {
		args = append(args, "--seed", "1")
	}
	args = append(args, f[1:]...)
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	timed := false
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		cmd = exec.Command("/usr/bin/time", append([]string{"-f", "maxrss-kib %M", bin}, args...)...)
		timed = true
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%s %s: %w\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	secs := time.Since(start).Seconds()
	var rss int64
	if timed {
		for _, line := range strings.Split(stderr.String(), "\n") {
			if v, ok := strings.CutPrefix(line, "maxrss-kib "); ok {
				kib, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				rss = kib << 10
			}
		}
	} else if ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage); ru != nil {
		rss = ru.Maxrss << 10 // KiB on Linux; an upper bound (includes this process at the fork)
	}
	if err := os.RemoveAll(out); err != nil {
		return 0, 0, err
	}
	return secs, rss, nil
}

// evict drops the files from the page cache.
func evict(files []string) {
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		unix.Fadvise(int(fh.Fd()), 0, 0, unix.FADV_DONTNEED)
		fh.Close()
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return strconv.FormatInt(n, 10) + " B"
}

func parseSize(s string) (int64, error) {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}} {
		if strings.HasSuffix(s, u.suffix) {
			f, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			if err != nil || f <= 0 {
				return 0, fmt.Errorf("bad size %q", s)
			}
			return int64(f * float64(u.mult)), nil
		}
	}
	return 0, fmt.Errorf("size %q: give MiB or GiB", s)
}
