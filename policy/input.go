package policy

import (
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// InputVersion is the version of the input document contract.
const InputVersion = "v1"

// Resource kinds used by the gateway and the catalog.
const (
	KindService   = "service"
	KindNamespace = "namespace"
	KindDataset   = "dataset"
	KindTable     = "table"
	KindView      = "view"
	KindGrant     = "grant"
	KindAudit     = "audit"
	KindLineage   = "lineage"
)

// Principal is the authenticated caller.
type Principal struct {
	Subject string   `json:"sub"`
	Roles   []string `json:"roles"`
}

// Resource is the object an action applies to.
type Resource struct {
	// Kind is one of "service", "namespace", "dataset", "table", "view",
	// "grant", "audit", "lineage".
	Kind string `json:"kind"`
	// Namespace is dotted, e.g. "sales.eu". For Kind "namespace" it is the
	// namespace itself.
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Fields are the dataset's tagged fields, given with records.write so that a policy can
	// return field transformations (input.resource.fields: [{"path", "tags"}]).
	Fields []Field `json:"fields,omitempty"`
}

// Field is a tagged field of a dataset's schema.
type Field struct {
	Path string   `json:"path"`
	Tags []string `json:"tags"`
}

// RequestContext carries request metadata a policy may use.
type RequestContext struct {
	RequestID string    `json:"request_id,omitempty"`
	ClientIP  string    `json:"client_ip,omitempty"`
	Method    string    `json:"method,omitempty"`
	Path      string    `json:"path,omitempty"`
	Time      time.Time `json:"time"`
}

// Input is the document given to OPA as `input`.
type Input struct {
	Version   string         `json:"version"`
	Principal Principal      `json:"principal"`
	Action    Action         `json:"action"`
	Resource  Resource       `json:"resource"`
	Context   RequestContext `json:"context"`
}

// astValue builds the same document encoding/json would produce for in,
// directly as an AST value, which avoids a JSON round trip per decision.
func (in Input) astValue() ast.Value {
	var roles *ast.Term
	if in.Principal.Roles == nil {
		roles = ast.NullTerm()
	} else {
		terms := make([]*ast.Term, len(in.Principal.Roles))
		for i, r := range in.Principal.Roles {
			terms[i] = ast.StringTerm(r)
		}
		roles = ast.ArrayTerm(terms...)
	}

	resource := [][2]*ast.Term{
		ast.Item(ast.InternedTerm("kind"), ast.StringTerm(in.Resource.Kind)),
	}
	resource = appendNonEmpty(resource, "namespace", in.Resource.Namespace)
	resource = appendNonEmpty(resource, "name", in.Resource.Name)
	if len(in.Resource.Fields) > 0 {
		fields := make([]*ast.Term, len(in.Resource.Fields))
		for i, f := range in.Resource.Fields {
			tags := make([]*ast.Term, len(f.Tags))
			for j, t := range f.Tags {
				tags[j] = ast.StringTerm(t)
			}
			fields[i] = ast.ObjectTerm(
				ast.Item(ast.InternedTerm("path"), ast.StringTerm(f.Path)),
				ast.Item(ast.InternedTerm("tags"), ast.ArrayTerm(tags...)),
			)
		}
		resource = append(resource, ast.Item(ast.InternedTerm("fields"), ast.ArrayTerm(fields...)))
	}

	var reqCtx [][2]*ast.Term
	reqCtx = appendNonEmpty(reqCtx, "request_id", in.Context.RequestID)
	reqCtx = appendNonEmpty(reqCtx, "client_ip", in.Context.ClientIP)
	reqCtx = appendNonEmpty(reqCtx, "method", in.Context.Method)
	reqCtx = appendNonEmpty(reqCtx, "path", in.Context.Path)
	reqCtx = append(reqCtx, ast.Item(ast.InternedTerm("time"), ast.StringTerm(formatTime(in.Context.Time))))

	return ast.NewObject(
		ast.Item(ast.InternedTerm("version"), ast.StringTerm(in.Version)),
		ast.Item(ast.InternedTerm("principal"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("sub"), ast.StringTerm(in.Principal.Subject)),
			ast.Item(ast.InternedTerm("roles"), roles),
		)),
		ast.Item(ast.InternedTerm("action"), ast.StringTerm(string(in.Action))),
		ast.Item(ast.InternedTerm("resource"), ast.ObjectTerm(resource...)),
		ast.Item(ast.InternedTerm("context"), ast.ObjectTerm(reqCtx...)),
	)
}

func appendNonEmpty(items [][2]*ast.Term, key, value string) [][2]*ast.Term {
	if value == "" {
		return items
	}
	return append(items, ast.Item(ast.InternedTerm(key), ast.StringTerm(value)))
}
