package tensor

import (
	"os"
	"path/filepath"
	"testing"
)

// A saved checkpoint folder is world-readable like its files, not private like the temporary
// folder it was built in.
func TestCheckpointFolderPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	x, err := NewF32("w", []int{2}, []float32{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveCheckpoint(dir, nil, []*Tensor{x}, CheckpointOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o755 {
		t.Errorf("folder permissions %v, want rwxr-xr-x", perm)
	}
}
