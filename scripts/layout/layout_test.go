package layout_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// pkg is the part of `go list -json` output the rules read.
type pkg struct {
	ImportPath string
	Imports    []string // direct imports of the non-test package
	Deps       []string // everything it links, transitively
	Module     *struct{ Path string }
}

// rule forbids some imports to some packages. Paths a rule matches are
// relative to the module ("server/soap", "wssec"); third-party paths are
// absolute. A rule whose packages do not exist yet simply matches nothing.
type rule struct {
	name string
	// applies reports whether the rule binds the package at rel.
	applies func(rel string) bool
	// transitive checks Deps (what gets linked) instead of Imports.
	transitive bool
	// forbidden reports whether importing imp (module-relative for our own
	// packages, absolute otherwise) breaks the rule.
	forbidden func(imp string, own bool) bool
}

// under reports whether rel is dir or below it.
func under(rel string, dirs ...string) bool {
	for _, d := range dirs {
		if rel == d || strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}

var rules = []rule{
	{
		name:       "agent/, soapclient/ and wssec/ never link server/ or a server database driver",
		applies:    func(rel string) bool { return under(rel, "agent", "soapclient", "wssec") },
		transitive: true,
		forbidden: func(imp string, own bool) bool {
			if own {
				return under(imp, "server")
			}
			return under(imp, "github.com/lib/pq", "modernc.org/sqlite")
		},
	},
	{
		name:    "wssec does no I/O: it imports neither os, net, net/http nor io/ioutil",
		applies: func(rel string) bool { return rel == "wssec" },
		forbidden: func(imp string, own bool) bool {
			return !own && (imp == "os" || imp == "net" || imp == "net/http" || imp == "io/ioutil")
		},
	},
	{
		name: "only server/soap..., soapclient/... and cmd/... import generated/",
		applies: func(rel string) bool {
			return !strings.HasPrefix(rel, "server/soap") && !under(rel, "soapclient", "cmd", "generated")
		},
		forbidden: func(imp string, own bool) bool { return own && under(imp, "generated") },
	},
}

// violations checks pkgs of module against rs and returns one line per
// broken rule and offending import, sorted.
func violations(module string, pkgs []pkg, rs []rule) []string {
	rel := func(p string) (string, bool) {
		if p == module {
			return ".", true
		}
		if strings.HasPrefix(p, module+"/") {
			return strings.TrimPrefix(p, module+"/"), true
		}
		return p, false
	}
	var out []string
	for _, p := range pkgs {
		prel, own := rel(p.ImportPath)
		if !own {
			continue
		}
		for _, r := range rs {
			if !r.applies(prel) {
				continue
			}
			imports := p.Imports
			if r.transitive {
				imports = p.Deps
			}
			for _, imp := range imports {
				irel, iown := rel(imp)
				if r.forbidden(irel, iown) {
					out = append(out, fmt.Sprintf("%s imports %s, but %s", p.ImportPath, imp, r.name))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// goList returns the module path and every package of the module, with its
// imports and dependencies, as the go command sees them.
func goList() (string, []pkg) {
	GinkgoHelper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	Expect(err).NotTo(HaveOccurred(), "go env GOMOD")
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	Expect(root).NotTo(Equal("."), "not inside a module")

	modCmd := exec.Command("go", "list", "-m")
	modCmd.Dir = root
	module, err := modCmd.Output()
	Expect(err).NotTo(HaveOccurred(), "go list -m")

	// -e: a package that does not build yet still reports its imports;
	// -deps: include what the module links, so Deps can be checked too.
	var stderr bytes.Buffer
	cmd := exec.Command("go", "list", "-e", "-deps", "-json=ImportPath,Imports,Deps,Module", "./...")
	cmd.Dir = root
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "go list: %s", stderr.String())

	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			Expect(err).NotTo(HaveOccurred())
		}
		pkgs = append(pkgs, p)
	}
	return strings.TrimSpace(string(module)), pkgs
}

var _ = Describe("dependency rules", func() {
	It("hold for every package in the module", func() {
		module, pkgs := goList()
		Expect(module).NotTo(BeEmpty())

		var own []string
		for _, p := range pkgs {
			if p.Module != nil && p.Module.Path == module {
				own = append(own, p.ImportPath)
			}
		}
		// A broken `go list` that returns nothing would pass every rule.
		Expect(own).NotTo(BeEmpty(), "go list found no packages of %s", module)
		fmt.Fprintf(GinkgoWriter, "checked %d packages of %s\n", len(own), module)

		Expect(violations(module, pkgs, rules)).To(BeEmpty())
	})

	// The rules themselves, on a made-up module, so a rule that silently
	// matches nothing is caught here rather than trusted.
	const mod = "example.com/m"
	p := func(path string, imports, deps []string) pkg {
		return pkg{ImportPath: mod + "/" + path, Imports: imports, Deps: deps}
	}

	DescribeTable("catch",
		func(bad pkg, want string) {
			Expect(violations(mod, []pkg{bad}, rules)).To(ConsistOf(ContainSubstring(want)))
		},
		Entry("agent linking server through another package",
			p("agent/outbox", []string{mod + "/agent/store"}, []string{mod + "/agent/store", mod + "/server/store"}),
			"agent/outbox imports example.com/m/server/store"),
		Entry("soapclient linking lib/pq",
			p("soapclient", nil, []string{"github.com/lib/pq", "database/sql"}),
			"imports github.com/lib/pq"),
		Entry("wssec/pki linking SQLite",
			p("wssec/pki", nil, []string{"modernc.org/sqlite/lib"}),
			"imports modernc.org/sqlite/lib"),
		Entry("wssec importing net/http",
			p("wssec", []string{"crypto/x509", "net/http"}, nil),
			"wssec imports net/http"),
		Entry("wssec importing os",
			p("wssec", []string{"os"}, nil),
			"wssec does no I/O"),
		Entry("server's root importing generated",
			p("server", []string{mod + "/generated/device"}, nil),
			"only server/soap"),
		Entry("agent importing generated",
			p("agent", []string{mod + "/generated/device"}, nil),
			"agent imports example.com/m/generated/device"),
	)

	DescribeTable("allow",
		func(ok pkg) {
			Expect(violations(mod, []pkg{ok}, rules)).To(BeEmpty())
		},
		Entry("wssec/pki doing file I/O", p("wssec/pki", []string{"os", "crypto/x509"}, []string{"os"})),
		Entry("wssec linking os through etree", p("wssec", []string{"github.com/beevik/etree"}, []string{"os"})),
		Entry("server/soap importing generated", p("server/soap", []string{mod + "/generated/device"}, nil)),
		Entry("soapclient importing generated", p("soapclient/transport", []string{mod + "/generated/device"}, nil)),
		Entry("cmd importing generated", p("cmd/rmsctl", []string{mod + "/generated/management"}, nil)),
		Entry("agent linking generated through soapclient", p("agent", []string{mod + "/soapclient"}, []string{mod + "/generated/device"})),
		Entry("server/postgres linking lib/pq", p("server/postgres", []string{"github.com/lib/pq"}, []string{"github.com/lib/pq"})),
		Entry("a package outside the module", pkg{ImportPath: "github.com/x/agent", Imports: []string{"example.com/m/server"}}),
	)
})
