//go:build unix

package tensor

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A named pipe given as a model or a config is refused at once: opening it for reading would
// wait for a writer forever.
func TestNamedPipesAreRefusedWithoutWaiting(t *testing.T) {
	root := t.TempDir()
	fifo := filepath.Join(root, "model.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no named pipes here:", err)
	}
	ckdir := filepath.Join(root, "ck")
	os.Mkdir(ckdir, 0o755)
	if err := syscall.Mkfifo(filepath.Join(ckdir, ConfigFile), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 3)
	go func() {
		_, err := Open(fifo)
		done <- fmt.Sprint(err)
		_, err = ReadConfig(filepath.Join(ckdir, ConfigFile))
		done <- fmt.Sprint(err)
		_, err = OpenCheckpoint(ckdir)
		done <- fmt.Sprint(err)
	}()
	for _, want := range []string{fifo, filepath.Join(ckdir, ConfigFile), filepath.Join(ckdir, ConfigFile)} {
		select {
		case got := <-done:
			if got != want+": is a named pipe (FIFO), not a regular file" {
				t.Errorf("got %q", got)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("opening a named pipe hangs")
		}
	}
}
