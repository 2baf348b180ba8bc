package tensor_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ordermerge/ordermerge/tensor"
)

// LockFolder claims an output folder for one writer; a second one is told who holds it.
// CreateCheckpoint takes the lock by itself; a caller that writes a folder several times (a
// training run, its log) holds it for the whole job and passes it in CheckpointOptions.Lock.
func ExampleLockFolder() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "run")
	lock, err := tensor.LockFolder(out)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lock.Unlock()
	w, _ := tensor.NewF32("w", []int{2}, []float32{1, 2})
	err = tensor.SaveCheckpoint(out, nil, []*tensor.Tensor{w}, tensor.CheckpointOptions{Lock: lock})
	fmt.Println("saved:", err == nil)

	_, err = tensor.LockFolder(out)
	var busy *tensor.LockedError
	fmt.Println("second writer refused:", errors.As(err, &busy), busy.PID == os.Getpid())
	// Output:
	// saved: true
	// second writer refused: true true
}

// CheckMemory compares an estimate, item by item, with the memory available where the work
// will run (CheckHostMemory reads the host's); a run that cannot fit is refused with the
// numbers before anything is allocated.
func ExampleCheckMemory() {
	const params = 8030261248 // Llama-3-8B (llama.ParamCount counts a config's)
	items := []tensor.MemoryItem{
		{What: "parameters", Bytes: tensor.MemoryBytes(float64(params), 4)},
		{What: "gradients", Bytes: tensor.MemoryBytes(float64(params), 4)},
		{What: "AdamW moments", Bytes: tensor.MemoryBytes(float64(params), 8)},
	}
	fmt.Println(tensor.CheckMemory("host memory", "train", 24<<30, items))
	// Output:
	// not enough host memory to train: it needs at least 119.7 GiB (parameters 29.9 GiB, gradients 29.9 GiB, AdamW moments 59.8 GiB) but 24.0 GiB is available
}
