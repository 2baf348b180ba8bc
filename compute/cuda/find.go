//go:build linux

package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/ebitengine/purego"
)

// EnvLibDir names a folder searched first for the CUDA libraries.
const EnvLibDir = "ORDERMERGE_CUDA_LIBS"

// library is one shared library the device needs: the names it goes by, newest first.
type library struct {
	what  string // for messages: "the NVIDIA driver (libcuda)"
	names []string
	// preload are other libraries of the same folder to load first (dependencies that the
	// folder's own RUNPATH may not find).
	preload []string
}

var (
	libDriver = library{"the NVIDIA driver", []string{"libcuda.so.1", "libcuda.so"}, nil}
	libBLAS   = library{"cuBLAS", []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}, []string{"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11", "libcublasLt.so"}}
	libNVRTC  = library{"NVRTC", []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11", "libnvrtc.so"}, []string{"libnvrtc-builtins.so.13.*", "libnvrtc-builtins.so.12.*", "libnvrtc-builtins.so.11.*", "libnvrtc-builtins.so"}}
	libFFI    = library{"libffi", []string{"libffi.so.8", "libffi.so.7", "libffi.so.6", "libffi.so"}, nil}
)

// searchDirs lists the folders searched, in order: the explicit one, LD_LIBRARY_PATH, the
// CUDA toolkits, the system library folders, and the NVIDIA wheels of Python environments.
func searchDirs(explicit string) []string {
	var dirs []string
	add := func(d string) {
		if d == "" {
			return
		}
		for _, have := range dirs {
			if have == d {
				return
			}
		}
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			dirs = append(dirs, d)
		}
	}
	add(explicit)
	add(os.Getenv(EnvLibDir))
	for _, d := range filepath.SplitList(os.Getenv("LD_LIBRARY_PATH")) {
		add(d)
	}
	if home := os.Getenv("CUDA_HOME"); home != "" {
		add(filepath.Join(home, "lib64"))
	}
	if home := os.Getenv("CUDA_PATH"); home != "" {
		add(filepath.Join(home, "lib64"))
	}
	toolkits, _ := filepath.Glob("/usr/local/cuda*")
	sort.Sort(sort.Reverse(sort.StringSlice(toolkits))) // newest version first
	for _, t := range append([]string{"/usr/local/cuda"}, toolkits...) {
		add(filepath.Join(t, "lib64"))
		add(filepath.Join(t, "targets", archTarget(), "lib"))
	}
	for _, d := range []string{"/usr/lib/" + archTriple(), "/usr/lib64", "/usr/lib", "/usr/lib/wsl/lib", "/usr/local/lib"} {
		add(d)
	}
	for _, sp := range sitePackages() {
		wheels, _ := filepath.Glob(filepath.Join(sp, "nvidia", "*", "lib"))
		sort.Strings(wheels)
		for _, w := range wheels {
			add(w)
		}
	}
	return dirs
}

func archTriple() string {
	if runtime.GOARCH == "arm64" {
		return "aarch64-linux-gnu"
	}
	return "x86_64-linux-gnu"
}

func archTarget() string {
	if runtime.GOARCH == "arm64" {
		return "sbsa-linux"
	}
	return "x86_64-linux"
}

// sitePackages lists the Python package folders where pip puts PyTorch's NVIDIA wheels: the
// active virtual or conda environment, the user's, that of the python3 on PATH, and the
// system's.
func sitePackages() []string {
	var roots []string
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if p := os.Getenv(env); p != "" {
			roots = append(roots, filepath.Join(p, "lib", "python3*", "site-packages"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		roots = append(roots, filepath.Join(home, ".local", "lib", "python3*", "site-packages"))
	}
	// The environment of the python3 first on PATH, activated or not (a virtual environment
	// such as /opt/torch/.venv/bin/python3 keeps its packages in ../lib/python3.X).
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if st, err := os.Stat(filepath.Join(d, "python3")); err == nil && !st.IsDir() {
			roots = append(roots, filepath.Join(filepath.Dir(d), "lib", "python3*", "site-packages"))
			break
		}
	}
	roots = append(roots,
		"/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
		"/usr/lib/python3/dist-packages", "/usr/lib/python3*/site-packages",
		"/opt/conda/lib/python3*/site-packages")
	var out []string
	for _, r := range roots {
		m, _ := filepath.Glob(r)
		sort.Sort(sort.Reverse(sort.StringSlice(m)))
		out = append(out, m...)
	}
	return out
}

// loaded is a library opened with dlopen.
type loaded struct {
	handle uintptr
	path   string
}

// sym returns a symbol's address, or an error naming the library.
func (l loaded) sym(name string) (uintptr, error) {
	p, err := purego.Dlsym(l.handle, name)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("%s has no %s", l.path, name)
	}
	return p, nil
}

// open finds and dlopens lib: in dirs first, then by name through the dynamic linker's own
// search (ld.so.cache). The error says where it looked.
func open(lib library, dirs []string) (loaded, error) {
	var tried []string
	for _, d := range dirs {
		for _, name := range lib.names {
			p := filepath.Join(d, name)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			preload(d, lib.preload)
			h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
			if err == nil {
				return loaded{h, p}, nil
			}
			tried = append(tried, fmt.Sprintf("%s (%v)", p, err))
		}
	}
	for _, name := range lib.names {
		if h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
			return loaded{h, name}, nil
		}
	}
	msg := fmt.Sprintf("%s (%s) not found", lib.what, lib.names[0])
	if len(tried) > 0 {
		msg += "; could not load " + strings.Join(tried, ", ")
	}
	return loaded{}, fmt.Errorf("%s; looked in %s and the system library path (set %s to the folder that has it)", msg, shortList(dirs), EnvLibDir)
}

// preload dlopens the first present dependency of each pattern in dir, so a library found in
// a folder outside the linker's search path finds its siblings.
func preload(dir string, patterns []string) {
	for _, pat := range patterns {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		sort.Sort(sort.Reverse(sort.StringSlice(m)))
		if len(m) > 0 {
			if _, err := purego.Dlopen(m[0], purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
				return
			}
		}
	}
}

// shortList formats folders for one error line.
func shortList(dirs []string) string {
	if len(dirs) == 0 {
		return "no folders"
	}
	if len(dirs) > 6 {
		return strings.Join(dirs[:6], ", ") + fmt.Sprintf(" and %d more folders", len(dirs)-6)
	}
	return strings.Join(dirs, ", ")
}
