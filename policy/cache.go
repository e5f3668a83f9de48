package policy

import (
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// decisionCache memoizes decisions of a policy that is a pure function of the principal,
// the action, the resource and the data (grants): it never reads input.context and calls no
// non-deterministic builtin. A new cache replaces the old one whenever the policy or the
// grants change, so a cached decision is exactly the one OPA would make now.
type decisionCache struct {
	mu      sync.RWMutex
	entries map[string]Decision
}

const maxCachedDecisions = 1 << 16

func newDecisionCache() *decisionCache {
	return &decisionCache{entries: make(map[string]Decision, 1024)}
}

func (c *decisionCache) get(key string) (Decision, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d, ok := c.entries[key]
	return d, ok
}

func (c *decisionCache) put(key string, d Decision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedDecisions {
		clear(c.entries)
	}
	c.entries[key] = d
}

// cacheKey identifies everything a cacheable decision depends on.
func cacheKey(in Input) string {
	var b strings.Builder
	b.Grow(64)
	b.WriteString(in.Version)
	b.WriteByte(1)
	b.WriteString(in.Principal.Subject)
	for _, r := range in.Principal.Roles {
		b.WriteByte(0)
		b.WriteString(r)
	}
	b.WriteByte(1)
	b.WriteString(string(in.Action))
	b.WriteByte(1)
	b.WriteString(in.Resource.Kind)
	b.WriteByte(1)
	b.WriteString(in.Resource.Namespace)
	b.WriteByte(1)
	b.WriteString(in.Resource.Name)
	for _, f := range in.Resource.Fields {
		b.WriteByte(2)
		b.WriteString(f.Path)
		for _, t := range f.Tags {
			b.WriteByte(0)
			b.WriteString(t)
		}
	}
	return b.String()
}

// cacheable reports whether the compiled policy's decisions depend only on principal, action,
// resource and data: no reference to input.context (or to input as a whole, or to a computed
// key of input), and no non-deterministic builtin such as time.now_ns or http.send.
func cacheable(compiler *ast.Compiler) bool {
	pure := true
	var visit func(t *ast.Term) bool
	visit = func(t *ast.Term) bool {
		switch v := t.Value.(type) {
		case ast.Ref:
			if v[0].Equal(ast.InputRootDocument) {
				if !inputRefIsPure(v) {
					pure = false
				}
				for _, operand := range v[1:] {
					ast.WalkTerms(operand, visit)
				}
				return true // children handled: the head var is not a bare input
			}
		case ast.Var:
			if v.Equal(ast.InputRootDocument.Value) { // e.g. x := input
				pure = false
			}
		case ast.Call:
			if nondeterministic(v[0].String()) {
				pure = false
			}
		}
		return false
	}
	for _, mod := range compiler.Modules {
		ast.WalkTerms(mod, visit)
		ast.WalkExprs(mod, func(e *ast.Expr) bool {
			if e.IsCall() && nondeterministic(e.Operator().String()) {
				pure = false
			}
			return false
		})
	}
	return pure
}

func inputRefIsPure(r ast.Ref) bool {
	if len(r) < 2 {
		return false
	}
	key, isString := r[1].Value.(ast.String)
	return isString && string(key) != "context"
}

func nondeterministic(name string) bool {
	b, ok := ast.BuiltinMap[name]
	return ok && b.Nondeterministic
}
