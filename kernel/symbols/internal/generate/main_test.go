package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestGeneratedFilesAreFresh regenerates the tables of our own packages and the doc index
// into a temporary directory and compares them with the committed ones in kernel/symbols.
// The third-party tables depend only on the manifest (Go version and module versions), which
// is compared too; set ORDERMERGE_SYMBOLS_FULL=1 to regenerate and compare those as well
// (about half a minute on two cores).
func TestGeneratedFilesAreFresh(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join(wd, "..", "..")
	root := filepath.Join(committed, "..", "..")
	full := os.Getenv("ORDERMERGE_SYMBOLS_FULL") == "1"
	tmp := t.TempDir()
	t.Cleanup(func() { os.Chdir(wd) })
	if err := run(tmp, root, !full); err != nil {
		t.Fatalf("regenerate: %v", err)
	}
	fresh := listGenerated(t, tmp, full)
	old := listGenerated(t, committed, full)
	if strings.Join(fresh, " ") != strings.Join(old, " ") {
		t.Fatalf("generated files differ:\n committed %v\n fresh     %v\nrun: go generate ./kernel/symbols", old, fresh)
	}
	for _, name := range fresh {
		a, _ := os.ReadFile(filepath.Join(tmp, name))
		b, _ := os.ReadFile(filepath.Join(committed, name))
		if !bytes.Equal(a, b) {
			t.Errorf("kernel/symbols/%s is stale: run go generate ./kernel/symbols", name)
		}
	}
	if !full {
		// Every third-party table named by the generator must be present.
		for _, p := range thirdParty {
			name := strings.NewReplacer("/", "-", ".", "_").Replace(p) + ".go"
			if _, err := os.Stat(filepath.Join(committed, name)); err != nil {
				t.Errorf("missing %s: run go generate ./kernel/symbols", name)
			}
		}
	}
}

func listGenerated(t *testing.T, dir string, full bool) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		switch {
		case n == "docs.json" || n == "manifest.txt" || n == StdlibDocsFile:
		case strings.HasSuffix(n, ".go") && generatedFile(filepath.Join(dir, n)) &&
			(full || strings.HasPrefix(n, "ordermerge-")):
		default:
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
