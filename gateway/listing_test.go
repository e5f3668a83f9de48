package gateway_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/gateway"
	"github.com/lakegate/lakegate/internal/testenv"
)

// listPage is one page of any of the listings: ours (datasets, next_page_token) or the
// Iceberg catalog's (namespaces, identifiers, next-page-token).
type listPage struct {
	Datasets []struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"datasets"`
	Namespaces  [][]string `json:"namespaces"`
	Identifiers []struct {
		Namespace []string `json:"namespace"`
		Name      string   `json:"name"`
	} `json:"identifiers"`
	NextPageToken        string `json:"next_page_token"`
	IcebergNextPageToken string `json:"next-page-token"`
}

func (p listPage) names() []string {
	out := []string{}
	for _, d := range p.Datasets {
		out = append(out, d.Namespace+"."+d.Name)
	}
	for _, ns := range p.Namespaces {
		out = append(out, strings.Join(ns, "."))
	}
	for _, id := range p.Identifiers {
		out = append(out, strings.Join(id.Namespace, ".")+"."+id.Name)
	}
	return out
}

func (p listPage) token() string { return p.NextPageToken + p.IcebergNextPageToken }

// walked is what a walk through a list saw.
type walked struct {
	names   []string
	pages   int
	partial int // pages that were not full but had a next token
}

// walk lists path page by page with page size 1 (the page parameters named by iceberg),
// checking that no token contains any of the hidden names.
func walk(t *testing.T, env *testenv.Env, path, token string, iceberg bool, hidden ...string) walked {
	t.Helper()
	sizeParam, tokenParam := "page_size", "page_token"
	if iceberg {
		sizeParam, tokenParam = "pageSize", "pageToken"
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var w walked
	tok := ""
	for w.pages = 1; ; w.pages++ {
		require.Less(t, w.pages, 50, "the walk of %s does not end", path)
		u := path + sep + sizeParam + "=1"
		if tok != "" {
			u += "&" + tokenParam + "=" + url.QueryEscape(tok)
		}
		r := env.Do(t, "GET", u, token, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var p listPage
		r.JSON(t, &p)
		w.names = append(w.names, p.names()...)
		tok = p.token()
		if tok == "" {
			return w
		}
		if len(p.names()) == 0 {
			w.partial++
		}
		requireOpaque(t, tok, hidden...)
	}
}

// requireOpaque checks that no name can be read from a token, however it is decoded.
func requireOpaque(t *testing.T, tok string, names ...string) {
	t.Helper()
	forms := []string{tok}
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(tok); err == nil {
			forms = append(forms, string(b))
		}
	}
	for _, f := range forms {
		for _, n := range names {
			require.NotContains(t, f, n, "a page token reveals a name")
		}
	}
}

func createDataset(t *testing.T, env *testenv.Env, admin, ns, name string, tags ...string) {
	t.Helper()
	b := ordersBody()
	b["namespace"], b["name"], b["tags"] = ns, name, append([]string{}, tags...)
	r := env.Do(t, "POST", "/v1/datasets", admin, b)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
}

func grant(t *testing.T, env *testenv.Env, admin string, g map[string]any) {
	t.Helper()
	r := env.Do(t, "POST", "/v1/grants", admin, g)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
}

// A producer that may only write lists nothing: no names and no tokens to walk, whatever
// the filter, so that it cannot enumerate namespaces, tables, views or datasets, nor ask
// whether a dataset with a tag exists.
func TestListingRevealsNothingWithoutReadGrants(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	pat := testenv.Token(t, "pat", "producer")
	for _, n := range []string{"clicks", "events", "orders"} {
		createDataset(t, env, admin, "ingest", n, "pii")
	}
	for _, n := range []string{"ledger", "payroll"} {
		createDataset(t, env, admin, "secret", n, "confidential")
	}
	r := env.Do(t, "POST", "/iceberg/v1/namespaces/ingest/views", admin, createViewBody("recent", "SELECT id FROM ingest.orders"))
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	grant(t, env, admin, map[string]any{
		"principal_type": "subject", "principal": "pat", "privilege": "records.write", "scope_type": "namespace", "namespace": "ingest"})

	hidden := []string{"ingest", "secret", "clicks", "events", "orders", "ledger", "payroll", "recent"}
	for _, c := range []struct {
		path    string
		iceberg bool
	}{
		{"/iceberg/v1/namespaces", true},
		{"/iceberg/v1/namespaces/ingest/tables", true},
		{"/iceberg/v1/namespaces/ingest/views", true},
		{"/v1/datasets", false},
		{"/v1/datasets?tag=confidential", false},
		{"/v1/datasets?tag=pii", false},
	} {
		w := walk(t, env, c.path, pat, c.iceberg, hidden...)
		require.Empty(t, w.names, c.path)
		require.Equal(t, 1, w.pages, "%s: one empty page without a token", c.path)
	}

	// Whether a tag is used says nothing: the answer is the one for a tag nobody uses.
	for _, size := range []string{"1", "100"} {
		used := env.Do(t, "GET", "/v1/datasets?tag=confidential&page_size="+size, pat, nil)
		unused := env.Do(t, "GET", "/v1/datasets?tag=no_such_tag&page_size="+size, pat, nil)
		require.Equal(t, http.StatusOK, used.Status)
		require.JSONEq(t, string(unused.Body), string(used.Body))
	}

	// The admin sees the tagged datasets, through the same code.
	w := walk(t, env, "/v1/datasets?tag=confidential", admin, false, hidden...)
	require.Equal(t, []string{"secret.ledger", "secret.payroll"}, w.names)
	require.Zero(t, w.partial)
}

// A principal with grants on a few of many objects pages through exactly those, one at a
// time, with tokens that do not contain the names.
func TestListingPagesThroughTheVisibleSet(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	vic := testenv.Token(t, "vic", "analyst")
	tom := testenv.Token(t, "tom")
	nss := []string{"region_0", "region_1", "region_2", "region_3", "region_4", "region_5", "region_6", "region_7"}
	for _, ns := range nss {
		createDataset(t, env, admin, ns, "events")
	}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		createDataset(t, env, admin, "region_3", "table_"+n)
	}
	for _, ns := range []string{"region_3", "region_6"} {
		grant(t, env, admin, map[string]any{
			"principal_type": "subject", "principal": "vic", "privilege": "*", "scope_type": "namespace", "namespace": ns})
	}
	// tom may list region_3 (any namespace grant does) and load two of its tables.
	grant(t, env, admin, map[string]any{
		"principal_type": "subject", "principal": "tom", "privilege": "view.list", "scope_type": "namespace", "namespace": "region_3"})
	for _, n := range []string{"table_b", "table_e"} {
		grant(t, env, admin, map[string]any{
			"principal_type": "subject", "principal": "tom", "privilege": "*", "scope_type": "dataset", "namespace": "region_3", "name": n})
	}
	hidden := append([]string{"events", "table_"}, nss...)
	check := func(path, token string, iceberg bool, want ...string) walked {
		t.Helper()
		w := walk(t, env, path, token, iceberg, hidden...)
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, append([]string{}, w.names...), path)
		return w
	}

	w := check("/iceberg/v1/namespaces", vic, true, "region_3", "region_6")
	require.Equal(t, 3, w.pages, "two full pages, then an empty last one")
	require.Zero(t, w.partial)
	check("/v1/datasets", vic, false, "region_3.events", "region_3.table_a", "region_3.table_b", "region_3.table_c",
		"region_3.table_d", "region_3.table_e", "region_6.events")
	check("/iceberg/v1/namespaces/region_3/tables", tom, true, "region_3.table_b", "region_3.table_e")
	check("/v1/datasets?namespace=region_3", tom, false, "region_3.table_b", "region_3.table_e")
	check("/iceberg/v1/namespaces", tom, true)

	// The admin pages through everything, with tokens as opaque.
	check("/iceberg/v1/namespaces", admin, true, nss...)

	// A listing examines a bounded number of rows per request: when the budget runs out, the
	// page ends with what it found and a token that goes on from the last row examined.
	gateway.SetListScan(env.Server, 2)
	w = check("/iceberg/v1/namespaces/region_3/tables", tom, true, "region_3.table_b", "region_3.table_e")
	require.Positive(t, w.partial)
	w = check("/v1/datasets", tom, false, "region_3.table_b", "region_3.table_e")
	require.Positive(t, w.partial)
}

// A page token works only for the principal, the list and the filters it was issued for;
// anything else, altered or forged, is a 400 naming the parameter.
func TestPageTokenBinding(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	alice := testenv.Token(t, "alice", "admin")
	root := testenv.Token(t, "root", "admin")
	for _, ns := range []string{"a", "b", "c"} {
		createDataset(t, env, alice, ns, "x", "gold")
		createDataset(t, env, alice, ns, "y", "gold")
	}
	token := func(path string) string {
		t.Helper()
		r := env.Do(t, "GET", path, alice, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var p listPage
		r.JSON(t, &p)
		require.NotEmpty(t, p.token(), path)
		return url.QueryEscape(p.token())
	}
	nsTok := token("/iceberg/v1/namespaces?pageSize=1")
	tblTok := token("/iceberg/v1/namespaces/a/tables?pageSize=1")
	dsTok := token("/v1/datasets?tag=gold&page_size=1")
	auditTok := token("/v1/audit?page_size=1")

	// The token works for whom and what it was issued, whatever the page size.
	for _, path := range []string{
		"/iceberg/v1/namespaces?pageSize=2&pageToken=" + nsTok,
		"/iceberg/v1/namespaces/a/tables?pageToken=" + tblTok,
		"/v1/datasets?tag=gold&page_size=3&page_token=" + dsTok,
		"/v1/audit?page_size=1&page_token=" + auditTok,
	} {
		r := env.Do(t, "GET", path, alice, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", path, r.Body)
	}

	altered := []byte(dsTok)
	altered[len(altered)/2] ^= 'A' ^ 'B'
	refused := []struct {
		name, path, token, param string
	}{
		{"another principal", "/iceberg/v1/namespaces?pageToken=" + nsTok, root, "pageToken"},
		{"another principal", "/v1/datasets?tag=gold&page_token=" + dsTok, root, "page_token"},
		{"another principal", "/v1/audit?page_token=" + auditTok, root, "page_token"},
		{"another route", "/iceberg/v1/namespaces/a/tables?pageToken=" + nsTok, alice, "pageToken"},
		{"another route", "/iceberg/v1/namespaces/a/views?pageToken=" + tblTok, alice, "pageToken"},
		{"another route", "/v1/audit?page_token=" + dsTok, alice, "page_token"},
		{"another route", "/v1/datasets?tag=gold&page_token=" + auditTok, alice, "page_token"},
		{"another namespace", "/iceberg/v1/namespaces/b/tables?pageToken=" + tblTok, alice, "pageToken"},
		{"another parent", "/iceberg/v1/namespaces?parent=a&pageToken=" + nsTok, alice, "pageToken"},
		{"another filter", "/v1/datasets?tag=silver&page_token=" + dsTok, alice, "page_token"},
		{"a dropped filter", "/v1/datasets?page_token=" + dsTok, alice, "page_token"},
		{"an added filter", "/v1/audit?principal=alice&page_token=" + auditTok, alice, "page_token"},
		{"altered", "/v1/datasets?tag=gold&page_token=" + string(altered), alice, "page_token"},
		{"truncated", "/v1/datasets?tag=gold&page_token=" + dsTok[:len(dsTok)-4], alice, "page_token"},
		{"forged", "/v1/datasets?tag=gold&page_token=" + base64.RawURLEncoding.EncodeToString([]byte(`["a","x"]`)), alice, "page_token"},
		{"forged", "/iceberg/v1/namespaces?pageToken=" + base64.RawURLEncoding.EncodeToString([]byte(`["a"]`)), alice, "pageToken"},
		{"garbage", "/iceberg/v1/namespaces?pageToken=garbage!", alice, "pageToken"},
	}
	for _, c := range refused {
		r := env.Do(t, "GET", c.path, c.token, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s: %s", c.name, c.path, r.Body)
		require.Contains(t, string(r.Body), c.param, c.name)
	}
}

// The grant list shows only the grants the policy lets the principal manage, whatever the
// filters match: a policy may allow listing a namespace's grants but not managing some.
func TestGrantListShowsOnlyManageableGrants(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(`package lakegate.authz
decision := {"allow": false, "reason": "payroll grants are managed by hr"} if {
	input.principal.sub == "gina"
	input.action == "grant.manage"
	input.resource.name == "payroll"
} else := {"allow": true, "reason": "open"}
`), 0o600))
	env := testenv.New(t, testenv.Options{PolicyDir: dir})
	admin := testenv.Token(t, "alice", "admin")
	gina := testenv.Token(t, "gina")
	for _, name := range []string{"payroll", "people"} {
		grant(t, env, admin, map[string]any{
			"principal_type": "role", "principal": "analyst", "privilege": "dataset.read", "scope_type": "dataset", "namespace": "hr", "name": name})
	}
	grant(t, env, admin, map[string]any{
		"principal_type": "role", "principal": "clerk", "privilege": "dataset.read", "scope_type": "namespace", "namespace": "hr"})

	list := func(token, query string) []string {
		t.Helper()
		r := env.Do(t, "GET", "/v1/grants?"+query, token, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var out struct {
			Grants []struct{ Principal, Name string }
		}
		r.JSON(t, &out)
		var names []string
		for _, g := range out.Grants {
			names = append(names, g.Principal+":"+g.Name)
		}
		return names
	}
	require.ElementsMatch(t, []string{"analyst:payroll", "analyst:people", "clerk:"}, list(admin, "namespace=hr"))
	require.ElementsMatch(t, []string{"analyst:people", "clerk:"}, list(gina, "namespace=hr"))
	require.Equal(t, []string{"analyst:people"}, list(gina, "principal=analyst"))
}
