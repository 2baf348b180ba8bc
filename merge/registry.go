package merge

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Registry maps merge method names to methods. NewRegistry returns one holding the built-in
// methods; Register adds a researcher's. A Registry is passed where a merge is described
// (Options.Registry, Registry.ParseConfig, Registry.LoadConfig): there is no package-level
// registry to modify, so two notebooks or tests never see each other's methods. The zero value
// is not usable; a nil *Registry means the built-in methods. Safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	methods map[string]Method
}

// builtinMethods are the methods every registry starts with, under their mergekit names.
func builtinMethods() []Method {
	return []Method{
		linear{}, selection{}, taskArithmetic{}, ties{}, dareLinear{}, dareTies{}, slerp{}, modelStock{},
		nearswap{}, nuslerp{}, breadcrumbs{}, breadcrumbsTies{}, della{}, dellaLinear{}, passthrough{},
		karcher{}, multislerp{}, sce{}, ram{}, ram{plus: true}, arceeFusion{},
	}
}

// NewRegistry returns a registry holding the built-in methods.
func NewRegistry() *Registry {
	r := &Registry{methods: map[string]Method{}}
	for _, m := range builtinMethods() {
		r.methods[m.Info().Name] = m
	}
	return r
}

// methodName is what a method may be called: what a YAML merge_method can hold unquoted.
var methodName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Register adds m under m.Info().Name. It refuses a name already taken (built-in names
// included) and a malformed description (bad name, duplicate or malformed parameters), so
// that every merge with the method can be validated before any data is read.
func (r *Registry) Register(m Method) error {
	if r == nil || r.methods == nil {
		return fmt.Errorf("merge: Register on a nil or zero Registry (use NewRegistry)")
	}
	if m == nil {
		return fmt.Errorf("merge: Register: nil method")
	}
	info := m.Info()
	if err := checkInfo(info); err != nil {
		return fmt.Errorf("merge: Register %q: %w", info.Name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.methods[info.Name]; dup {
		return fmt.Errorf("merge: Register: a method named %q is already registered", info.Name)
	}
	r.methods[info.Name] = m
	return nil
}

// checkInfo checks a method description the way the config parser relies on it.
func checkInfo(info MethodInfo) error {
	if !methodName.MatchString(info.Name) {
		return fmt.Errorf("name must match %s", methodName)
	}
	switch {
	case info.MinModels < 0, info.MaxModels < 0, info.Endpoints < 0:
		return fmt.Errorf("MinModels, MaxModels and Endpoints must not be negative")
	case info.MaxModels > 0 && info.MaxModels < info.MinModels:
		return fmt.Errorf("MaxModels %d is below MinModels %d", info.MaxModels, info.MinModels)
	case info.Selecting && (info.MaxModels == 0 || info.MaxModels > 254):
		return fmt.Errorf("a selecting method records model indices in a byte: MaxModels must be in [1, 254]")
	}
	seen := map[string]bool{}
	for _, p := range info.Params {
		switch {
		case !methodName.MatchString(p.Name):
			return fmt.Errorf("parameter name %q must match %s", p.Name, methodName)
		case p.Name == "seed":
			return fmt.Errorf("parameter %q is reserved (set MethodInfo.Randomised)", p.Name)
		case seen[p.Name]:
			return fmt.Errorf("parameter %q is declared twice", p.Name)
		case p.Kind < FloatParam || p.Kind > ChoiceParam:
			return fmt.Errorf("parameter %q has an unknown kind %d", p.Name, int(p.Kind))
		case p.Kind == ChoiceParam && !p.Required && !slices.Contains(p.Choices, p.DefaultChoice):
			return fmt.Errorf("parameter %q: default %q is not one of its choices %v", p.Name, p.DefaultChoice, p.Choices)
		case p.PerModel && p.Fixed:
			return fmt.Errorf("parameter %q cannot be both per-model and fixed", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// Methods lists the registered methods, sorted by name.
func (r *Registry) Methods() []MethodInfo {
	r = r.orBuiltin()
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]MethodInfo, 0, len(r.methods))
	for _, m := range r.methods {
		out = append(out, m.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the description of the named method.
func (r *Registry) Lookup(name string) (MethodInfo, bool) {
	m, err := r.lookup(name)
	if err != nil {
		return MethodInfo{}, false
	}
	return m.Info(), true
}

// orBuiltin returns r, or a registry of the built-in methods when r is nil.
func (r *Registry) orBuiltin() *Registry {
	if r == nil {
		return NewRegistry()
	}
	return r
}

func (r *Registry) lookup(name string) (Method, error) {
	r = r.orBuiltin()
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok := r.methods[name]
	if !ok {
		names := make([]string, 0, len(r.methods))
		for n := range r.methods {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown merge method %q (known: %s)", name, strings.Join(names, ", "))
	}
	return m, nil
}

// Methods lists the built-in merge methods, sorted by name.
func Methods() []MethodInfo { return NewRegistry().Methods() }

// LookupMethod returns the description of the named built-in method.
func LookupMethod(name string) (MethodInfo, bool) { return NewRegistry().Lookup(name) }

// lookupMethod finds a method in r (nil: the built-in methods).
func lookupMethod(r *Registry, name string) (Method, error) { return r.lookup(name) }

// ParseConfig parses a YAML merge config as the package-level ParseConfig does, with its
// merge_method looked up in r: a config can name a method registered here.
func (r *Registry) ParseConfig(data []byte, filename string) (*Config, error) {
	return parseConfig(data, filename, r.orBuiltin())
}

// LoadConfig reads a YAML merge config whose merge_method is looked up in r.
func (r *Registry) LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return r.ParseConfig(b, path)
}
