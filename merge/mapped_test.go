package merge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

// writeFamily saves a base and k models of bigShapes in dtype dt under dir.
func writeFamily(t *testing.T, dir string, dt tensor.DType, k int) (base string, models []string) {
	t.Helper()
	b, ms := family(t, 77, bigShapes, dt, k, 0.5)
	base = saveShapes(t, dir, "base", bigShapes, b)
	for i, m := range ms {
		models = append(models, saveShapes(t, dir, fmt.Sprint("m", i), bigShapes, m))
	}
	return base, models
}

// Reading inputs through memory maps (the default for checkpoint files) and through read
// buffers gives the same bytes, for methods with and without statistics passes, with tensors
// held whole and read in chunks.
func TestMappedInputsMatchReads(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16} {
		dir := t.TempDir()
		base, models := writeFamily(t, dir, dt, 3)
		for _, method := range []string{"linear", "ties", "breadcrumbs", "della", "sce", "model_stock", "dare_ties"} {
			cfg := &Config{Method: method, Base: base, Seed: 5}
			for _, m := range models {
				var params map[string]any
				if method != "linear" && method != "model_stock" && method != "sce" {
					params = map[string]any{"density": 0.4}
				}
				cfg.Models = append(cfg.Models, Input{Path: m, Params: params})
			}
			// The default budget holds every tensor whole; the smallest budget the method
			// accepts (one worker) reads the large ones in chunks.
			chunked := false
			for _, budget := range []int64{0, 16 << 20, 20 << 20, 24 << 20, 28 << 20} {
				if budget > 0 && chunked {
					break
				}
				var outs [2]string
				for i, noMap := range []bool{false, true} {
					outs[i] = filepath.Join(dir, fmt.Sprintf("%s-%d-%v", method, budget, noMap))
					_, err := Run(context.Background(), cfg, RunOptions{Out: outs[i], MaxMemory: budget, Workers: 2, noMap: noMap})
					if budget > 0 && err != nil && strings.Contains(err.Error(), "too small") {
						break
					}
					if err != nil {
						t.Fatalf("%s %s budget %d noMap %v: %v", dt, method, budget, noMap, err)
					}
					chunked = budget > 0
				}
				if outs[1] == "" || !exists(outs[1]) {
					continue
				}
				a, err := os.ReadFile(filepath.Join(outs[0], "model.safetensors"))
				if err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(filepath.Join(outs[1], "model.safetensors"))
				if err != nil {
					t.Fatal(err)
				}
				if string(a) != string(b) {
					t.Errorf("%s %s budget %d: mapped and read inputs give different outputs", dt, method, budget)
				}
			}
			if !chunked {
				t.Errorf("%s %s: no budget up to 28 MiB was accepted", dt, method)
			}
		}
	}
}

// A mapped input truncated during the merge (here: after it was opened and validated) makes
// the read fault; the merge fails with an error naming the tensor instead of the process
// dying of SIGBUS.
func TestTruncatedMappedInputIsAnError(t *testing.T) {
	dir := t.TempDir()
	base, models := writeFamily(t, dir, tensor.F32, 2)
	var srcs []source
	for _, p := range append(models, base) {
		c, err := tensor.OpenCheckpoint(p)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		srcs = append(srcs, checkpointSource{label: p, ckpt: c})
	}
	in := planInput{method: "ties", settings: settings{global: map[string]value{}, model: []map[string]value{{}, {}}},
		models: srcs[:2], labels: []string{"m0", "m1"}, base: srcs[2], baseLabel: "base"}
	pl, err := buildPlan(in)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(models[1], "model.safetensors")
	st, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(f, st.Size()/4); err != nil {
		t.Fatal(err)
	}
	_, err = pl.execute(context.Background(), discardSink{}, runOptions{workers: 2})
	if err == nil || !strings.Contains(err.Error(), "memory fault") || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("got %v, want a memory fault error", err)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

type discardSink struct{}

func (discardSink) writeChunk(string, int64, []byte) error { return nil }
