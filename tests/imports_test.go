package tests

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/lakegate/lakegate"

// deps returns every package of the module with its transitive dependencies.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		m[fields[0]] = fields[1:]
	}
	return m
}

// The import rules of the architecture guide, each with its reason.
func TestImportGraph(t *testing.T) {
	all := deps(t)
	rules := []struct {
		pkg       string
		forbidden []string
		reason    string
	}{
		{"catalog", []string{"/policy", "/quality", "/lineage", "/gateway", "/writers", "github.com/labstack/echo", "github.com/nats-io", "github.com/open-policy-agent"},
			"the catalog core knows nothing of HTTP, NATS or OPA; governance reaches it through interfaces wired in cmd"},
		{"policy", []string{"/catalog", "/quality", "/lineage", "/gateway", "/writers", "github.com/labstack/echo", "github.com/nats-io"},
			"the policy engine decides; it does not serve or store datasets"},
		{"quality", []string{"/catalog", "/policy", "/lineage", "/gateway", "/writers", "github.com/jackc/pgx", "github.com/nats-io", "net/http", "os/exec"},
			"quality checks are pure functions: no I/O"},
		{"lineage", []string{"/catalog", "/policy", "/quality", "/gateway", "/writers", "github.com/labstack/echo", "github.com/nats-io"},
			"lineage and audit storage is independent of who records into it"},
		{"gateway", []string{"/writers", "/cmd"},
			"the HTTP edge and the writers share only the JetStream wire format"},
		{"writers", []string{"/gateway", "/cmd"},
			"the writers and the HTTP edge share only the JetStream wire format"},
		{"internal/pg", []string{"/catalog", "/policy", "/quality", "/lineage", "/gateway", "/writers"},
			"plumbing packages are imported by the features, never the other way"},
		{"internal/auth", []string{"/catalog", "/policy", "/quality", "/lineage", "/gateway", "/writers"},
			"plumbing packages are imported by the features, never the other way"},
		{"internal/natsembed", []string{"/catalog", "/policy", "/quality", "/lineage", "/gateway", "/writers"},
			"plumbing packages are imported by the features, never the other way"},
	}
	checked := 0
	for _, r := range rules {
		for pkg, ds := range all {
			if pkg != module+"/"+r.pkg && !strings.HasPrefix(pkg, module+"/"+r.pkg+"/") {
				continue
			}
			checked++
			for _, d := range ds {
				for _, f := range r.forbidden {
					if matches(d, f) {
						t.Errorf("%s imports %s: %s", strings.TrimPrefix(pkg, module+"/"), d, r.reason)
					}
				}
			}
		}
	}
	if checked < 6 {
		t.Fatalf("only %d packages matched the rules: the module layout changed, update the rules", checked)
	}
}

// matches reports whether dependency d is what pattern forbids: "/x" is the module's package
// x or one below it, anything else a prefix of an external import path.
func matches(d, pattern string) bool {
	if strings.HasPrefix(pattern, "/") {
		return d == module+pattern || strings.HasPrefix(d, module+pattern+"/")
	}
	return strings.HasPrefix(d, pattern)
}

// The matcher must catch a real dependency and ignore look-alikes.
func TestImportGraphMatcher(t *testing.T) {
	all := deps(t)
	found := false
	for _, d := range all[module+"/gateway"] {
		found = found || matches(d, "/catalog")
	}
	if !found {
		t.Fatal("gateway depends on catalog, but the matcher did not see it")
	}
	if matches(module+"/catalogx", "/catalog") || !matches(module+"/catalog/sub", "/catalog") {
		t.Fatal("matcher confuses package prefixes")
	}
	if !matches("github.com/nats-io/nats.go", "github.com/nats-io") {
		t.Fatal("matcher misses external prefixes")
	}
}
