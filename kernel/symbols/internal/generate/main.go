// Command generate writes the yaegi symbol tables and the doc index of package symbols.
// It is run by `go generate ./kernel/symbols`; see packages below for what is extracted.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/traefik/yaegi/extract"
	"github.com/traefik/yaegi/stdlib"
)

// module is our module path.
const module = "github.com/ordermerge/ordermerge"

// thirdParty are extracted as they are.
var thirdParty = []string{
	"gonum.org/v1/plot",
	"gonum.org/v1/plot/plotter",
	"gonum.org/v1/plot/plotutil",
	"gonum.org/v1/plot/vg",
	"gonum.org/v1/plot/vg/draw",
	"gonum.org/v1/plot/vg/vgimg",
	"gonum.org/v1/plot/vg/vgsvg",
	"gorgonia.org/gorgonia",
	"gorgonia.org/tensor",
}

// ours are the project's packages cells use, relative to the module root. To preload a new
// package add it here and run `go generate ./kernel/symbols`. A listed package that does not
// exist yet or does not compile is skipped with a note (packages land in parallel).
var ours = []string{
	"tensor",
	"compute",
	"compute/cpu",
	"compute/devices",
	"model/llama",
	"model/gorgoniamodel",
	"data",
	"tokenizer",
	"eval",
	"sft",
	"merge",
	"viz",
	"study",
	"cluster",
}

// docOnly are packages whose doc comments are indexed but whose symbols are registered by
// the kernel itself (display is bound per session).
var docOnly = []string{"kernel/display"}

func main() {
	out := flag.String("out", ".", "directory to write the generated files into")
	root := flag.String("root", "", "module root (default: found from the working directory)")
	oursOnly := flag.Bool("ours-only", false, "extract only the project's packages (fast; third-party tables are left alone)")
	flag.Parse()
	if err := run(*out, *root, *oursOnly); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run(out, root string, oursOnly bool) error {
	if root == "" {
		r, err := moduleRoot()
		if err != nil {
			return err
		}
		root = r
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	// Extraction resolves import paths from the working directory's module.
	if err := os.Chdir(root); err != nil {
		return err
	}
	var present []string
	ext := extract.Extractor{Dest: "symbols"}
	names := strings.NewReplacer("/", "-", ".", "_", "~", "_")
	written := map[string]bool{}
	var all []string
	if !oursOnly {
		all = append(all, thirdParty...)
	}
	for _, p := range ours {
		all = append(all, module+"/"+p)
	}
	for _, p := range all {
		var buf bytes.Buffer
		if _, err := ext.Extract(p, "", &buf); err != nil {
			if !strings.HasPrefix(p, module+"/") {
				return fmt.Errorf("extract %s: %w", p, err)
			}
			// Extraction type-checks the package: a missing or broken one is skipped.
			fmt.Fprintf(os.Stderr, "generate: skipping %s: %v\n", p, firstLine(err.Error()))
			continue
		}
		if strings.HasPrefix(p, module+"/") {
			present = append(present, p)
		}
		src, err := tidy(buf.Bytes())
		if err != nil {
			return fmt.Errorf("format symbols of %s: %w", p, err)
		}
		name := names.Replace(strings.TrimPrefix(p, module+"/")) + ".go"
		if strings.HasPrefix(p, module+"/") {
			name = "ordermerge-" + name
		}
		if err := os.WriteFile(filepath.Join(out, name), src, 0o644); err != nil {
			return err
		}
		written[name] = true
	}
	// Remove tables of packages no longer listed, so a stale file cannot linger.
	old, _ := filepath.Glob(filepath.Join(out, "*.go"))
	for _, f := range old {
		base := filepath.Base(f)
		if generatedFile(f) && !written[base] && (!oursOnly || strings.HasPrefix(base, "ordermerge-")) {
			os.Remove(f)
		}
	}
	manifest, err := Manifest(root)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "manifest.txt"), []byte(manifest), 0o644); err != nil {
		return err
	}
	docs := map[string]docEntry{}
	for _, p := range append(present, docOnlyPaths()...) {
		if err := indexDocs(filepath.Join(root, strings.TrimPrefix(p, module+"/")), p, docs); err != nil {
			return fmt.Errorf("doc index of %s: %w", p, err)
		}
	}
	b, err := json.MarshalIndent(docs, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "docs.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	std := map[string]docEntry{}
	if err := indexStdlibDocs(std); err != nil {
		return err
	}
	return writeGzipJSON(filepath.Join(out, StdlibDocsFile), std)
}

// linux is the platform whose files the standard library's docs are read from (fixed, so the
// index does not depend on the machine that generates it).
var linux = func() build.Context {
	c := build.Default
	c.GOOS, c.GOARCH, c.CgoEnabled = "linux", "amd64", true
	return c
}()

// StdlibDocsFile holds the standard library's doc index (gzip-compressed JSON: 2.8 MB of
// text, 0.6 MB compressed), in docs.json's format.
const StdlibDocsFile = "docs_stdlib.json.gz"

// writeGzipJSON writes v as compact JSON, gzip-compressed without a timestamp so the same
// input always gives the same bytes.
func writeGzipJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(b); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// Manifest lists what the third-party tables were extracted from: the Go version (extract
// stamps a go1.N build tag) and the required versions of the modules involved, read from
// go.mod. A change in any of them makes the committed tables stale.
func Manifest(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	want := map[string]bool{"github.com/traefik/yaegi": true, "gonum.org/v1/plot": true,
		"gorgonia.org/gorgonia": true, "gorgonia.org/tensor": true, "gonum.org/v1/gonum": true}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "require "))
		if len(f) >= 2 && want[f[0]] {
			lines = append(lines, f[0]+" "+f[1])
		}
	}
	sort.Strings(lines)
	goVersion := strings.Join(strings.Split(strings.TrimPrefix(runtime.Version(), "go"), ".")[:2], ".")
	return "# inputs of the generated third-party tables (see internal/generate)\ngo " + goVersion + "\n" +
		strings.Join(lines, "\n") + "\n", nil
}

func docOnlyPaths() []string {
	var ps []string
	for _, p := range docOnly {
		ps = append(ps, module+"/"+p)
	}
	return ps
}

// generatedFile reports whether f was written by extraction (not a hand-written file).
func generatedFile(f string) bool {
	b, err := os.ReadFile(f)
	return err == nil && bytes.HasPrefix(b, []byte("// Code generated by 'yaegi extract"))
}

// tidy gofmts the extractor's output, which also turns its "+build" line into "//go:build".
func tidy(src []byte) ([]byte, error) {
	return format.Source(src)
}

func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside a module")
	}
	return filepath.Dir(mod), nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

type docEntry struct {
	Decl string `json:"decl"`
	Doc  string `json:"doc,omitempty"`
}

// indexDocs adds the exported declarations of package path (source in dir) to docs.
func indexDocs(dir, path string, docs map[string]docEntry) error {
	return indexDocsOf(dir, path, docs, func(string) bool { return true })
}

// indexDocsOf is indexDocs of the files keep accepts.
func indexDocsOf(dir, path string, docs map[string]docEntry, keep func(name string) bool) error {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go") && keep(fi.Name())
	}, parser.ParseComments)
	if err != nil {
		return err
	}
	var files []*ast.File
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasSuffix(n, "_test") || n == "main" {
			continue
		}
		for _, f := range pkgs[n].Files {
			files = append(files, f)
		}
	}
	sort.Slice(files, func(i, j int) bool { return fset.File(files[i].Pos()).Name() < fset.File(files[j].Pos()).Name() })
	p, err := doc.NewFromFiles(fset, files, path)
	if err != nil {
		return err
	}
	docs[path] = docEntry{Decl: "package " + p.Name, Doc: p.Doc}
	decl := func(n ast.Node) string {
		var b bytes.Buffer
		printer.Fprint(&b, fset, n)
		return b.String()
	}
	funcDecl := func(f *ast.FuncDecl) string {
		c := *f
		c.Body = nil
		c.Doc = nil
		return decl(&c)
	}
	for _, f := range p.Funcs {
		docs[path+"."+f.Name] = docEntry{funcDecl(f.Decl), f.Doc}
	}
	for _, v := range append(p.Consts, p.Vars...) {
		for _, n := range v.Names {
			if ast.IsExported(n) {
				docs[path+"."+n] = docEntry{valueDecl(v.Decl, n, decl), v.Doc}
			}
		}
	}
	for _, t := range p.Types {
		docs[path+"."+t.Name] = docEntry{typeDecl(t.Decl, decl), t.Doc}
		for _, f := range t.Funcs {
			docs[path+"."+f.Name] = docEntry{funcDecl(f.Decl), f.Doc}
		}
		for _, m := range t.Methods {
			docs[path+"."+t.Name+"."+m.Name] = docEntry{funcDecl(m.Decl), m.Doc}
		}
		for _, v := range append(t.Consts, t.Vars...) {
			for _, n := range v.Names {
				if ast.IsExported(n) {
					docs[path+"."+n] = docEntry{valueDecl(v.Decl, n, decl), v.Doc}
				}
			}
		}
	}
	return nil
}

// valueDecl prints the one spec of a const/var group that declares name.
func valueDecl(g *ast.GenDecl, name string, decl func(ast.Node) string) string {
	for _, s := range g.Specs {
		vs := s.(*ast.ValueSpec)
		for _, n := range vs.Names {
			if n.Name == name {
				c := *vs
				c.Doc, c.Comment = nil, nil
				return g.Tok.String() + " " + decl(&c)
			}
		}
	}
	return g.Tok.String() + " " + name
}

// typeDecl prints a type declaration without its doc comment.
func typeDecl(g *ast.GenDecl, decl func(ast.Node) string) string {
	if len(g.Specs) == 0 {
		return ""
	}
	c := *g.Specs[0].(*ast.TypeSpec)
	c.Doc, c.Comment = nil, nil
	return "type " + decl(&c)
}

// indexStdlibDocs adds the standard library's doc comments, read from GOROOT's sources, for
// the symbols the interpreter has (yaegi's stdlib tables: Go 1.22's API), so that inspecting
// strings.ToUpper shows its parameters and doc as it does for our packages.
func indexStdlibDocs(docs map[string]docEntry) error {
	goroot := runtime.GOROOT()
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		goroot = strings.TrimSpace(string(out))
	}
	for key, syms := range stdlib.Symbols {
		path := filepath.ToSlash(filepath.Dir(key))
		if strings.Contains(path, "internal") || strings.Contains(strings.Split(path, "/")[0], ".") {
			continue // not the standard library's API (yaegi's own tables)
		}
		all := map[string]docEntry{}
		dir := filepath.Join(goroot, "src", filepath.FromSlash(path))
		// The files of one platform: several declare the same function for different systems
		// (os.File.Close for plan9 and unix), and which of them go/doc kept would vary.
		keep := func(name string) bool { ok, err := linux.MatchFile(dir, name); return err == nil && ok }
		if err := indexDocsOf(dir, path, all, keep); err != nil {
			return fmt.Errorf("doc index of %s: %w", path, err)
		}
		for k, d := range all {
			name := strings.TrimPrefix(k, path)
			if name != "" {
				name = strings.Split(strings.TrimPrefix(name, "."), ".")[0]
				if _, ok := syms[name]; !ok {
					continue // newer than the interpreter's tables
				}
			}
			docs[k] = d
		}
	}
	return nil
}
