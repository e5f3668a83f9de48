package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/policy"
)

// Catalog is the Iceberg catalog core the REST routes serve.
type Catalog interface {
	ViewCatalog
	CreateNamespace(ctx context.Context, ns catalog.Namespace, props map[string]string, hook catalog.TxHook) error
	NamespaceProperties(ctx context.Context, ns catalog.Namespace) (map[string]string, error)
	ListNamespaces(ctx context.Context, parent catalog.Namespace, after string, limit int) ([]catalog.Namespace, error)
	UpdateNamespaceProperties(ctx context.Context, ns catalog.Namespace, removals []string, updates map[string]string, hook catalog.TxHook) (catalog.PropertiesUpdate, error)
	DropNamespace(ctx context.Context, ns catalog.Namespace, hook catalog.TxHook) error
	ListEntries(ctx context.Context, ns catalog.Namespace, kind, after string, limit int) ([]string, error)
	CreateTable(ctx context.Context, t catalog.NewTable, hook catalog.TxHook) (table.Metadata, string, error)
	StageTable(ctx context.Context, t catalog.NewTable) (table.Metadata, error)
	LoadTable(ctx context.Context, ns catalog.Namespace, name string) (table.Metadata, string, error)
	CommitTables(ctx context.Context, changes []catalog.TableChange, hook catalog.TxHook) ([]catalog.Committed, error)
	DeleteDataset(ctx context.Context, ns catalog.Namespace, name string, purge bool, hook catalog.TxHook) error
	Rename(ctx context.Context, kind string, fromNS catalog.Namespace, from string, toNS catalog.Namespace, to string, hook catalog.TxHook) error
	RegisterTable(ctx context.Context, ns catalog.Namespace, name, metadataLocation, createdBy string, hook catalog.TxHook) (table.Metadata, error)
	Warehouse() string
}

// icebergRoutes registers the Iceberg REST catalog (apache/iceberg open-api/rest-catalog-open-api.yaml)
// under /iceberg/v1, without a prefix.
func (s *Server) icebergRoutes(e *echo.Echo) {
	g := e.Group(IcebergPrefix + "/v1")
	g.GET("/config", s.icebergConfig)
	g.POST("/oauth/tokens", s.oauthTokens)

	g.GET("/namespaces", s.listNamespaces)
	g.POST("/namespaces", s.createNamespace)
	g.GET("/namespaces/:namespace", s.loadNamespace)
	g.HEAD("/namespaces/:namespace", s.namespaceExists)
	g.DELETE("/namespaces/:namespace", s.dropNamespace)
	g.POST("/namespaces/:namespace/properties", s.updateNamespaceProperties)

	g.GET("/namespaces/:namespace/tables", s.listTables)
	g.POST("/namespaces/:namespace/tables", s.createTable)
	g.GET("/namespaces/:namespace/tables/:table", s.loadTable)
	g.HEAD("/namespaces/:namespace/tables/:table", s.tableExists)
	g.POST("/namespaces/:namespace/tables/:table", s.commitTable)
	g.DELETE("/namespaces/:namespace/tables/:table", s.dropTable)
	g.POST("/namespaces/:namespace/register", s.registerTable)
	g.POST("/namespaces/:namespace/tables/:table/metrics", s.reportMetrics)
	g.POST("/tables/rename", s.renameTable)
	g.POST("/transactions/commit", s.commitTransaction)

	s.icebergViewRoutes(g)
}

// icebergEndpoints are the routes advertised by GET /v1/config, in the spec's wire form.
var icebergEndpoints = []string{
	"GET /v1/{prefix}/namespaces",
	"POST /v1/{prefix}/namespaces",
	"GET /v1/{prefix}/namespaces/{namespace}",
	"HEAD /v1/{prefix}/namespaces/{namespace}",
	"DELETE /v1/{prefix}/namespaces/{namespace}",
	"POST /v1/{prefix}/namespaces/{namespace}/properties",
	"GET /v1/{prefix}/namespaces/{namespace}/tables",
	"POST /v1/{prefix}/namespaces/{namespace}/tables",
	"GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"POST /v1/{prefix}/namespaces/{namespace}/register",
	"POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics",
	"POST /v1/{prefix}/tables/rename",
	"POST /v1/{prefix}/transactions/commit",
	"POST /v1/oauth/tokens",
}

type configResponse struct {
	Defaults  map[string]string `json:"defaults"`
	Overrides map[string]string `json:"overrides"`
	Endpoints []string          `json:"endpoints"`
	// IdempotencyKeyLifetime (ISO-8601) tells clients they may send Idempotency-Key.
	IdempotencyKeyLifetime string `json:"idempotency-key-lifetime,omitempty"`
}

func (s *Server) icebergConfig(c echo.Context) error {
	// Any authenticated principal may read the configuration; it names no table.
	if err := s.authorize(c, policy.ActionNamespaceList, policy.Resource{Kind: "service"}); err != nil {
		return err
	}
	out := configResponse{
		Defaults:  map[string]string{},
		Overrides: map[string]string{},
		Endpoints: slices.Concat(icebergEndpoints, icebergViewEndpoints),
	}
	if s.deps.Idempotency != nil {
		out.IdempotencyKeyLifetime = isoDuration(s.cfg.IdempotencyLifetime)
	}
	return c.JSON(http.StatusOK, out)
}

// namespaceSeparator joins namespace levels in a path segment (the spec's unit separator).
const namespaceSeparator = "\x1f"

// pathNamespace decodes the {namespace} path parameter.
func pathNamespace(c echo.Context) (catalog.Namespace, error) {
	raw := c.Param("namespace")
	if dec, err := url.PathUnescape(raw); err == nil {
		raw = dec
	}
	ns := catalog.Namespace(strings.Split(raw, namespaceSeparator))
	if err := ns.Validate(); err != nil {
		return nil, err
	}
	return ns, nil
}

func pathName(c echo.Context, param string) (string, error) {
	name := c.Param(param)
	if dec, err := url.PathUnescape(name); err == nil {
		name = dec
	}
	if err := catalog.ValidateTableName(name); err != nil {
		return "", err
	}
	return name, nil
}

func tableResource(ns catalog.Namespace, name string) policy.Resource {
	return policy.Resource{Kind: "table", Namespace: ns.String(), Name: name}
}

func namespaceResource(ns catalog.Namespace) policy.Resource {
	return policy.Resource{Kind: "namespace", Namespace: ns.String()}
}

// pageParams reads pageToken (a cursor of one part) and pageSize.
func (s *Server) pageParams(c echo.Context) (after []string, limit int, err error) {
	limit, err = intParam(c, "pageSize", 1000, 1, 1000)
	if err != nil {
		return nil, 0, err
	}
	after, err = s.openPage(c, icebergPage, 1)
	return after, limit, err
}

// firstOf is a one-part cursor's value, "" for the start.
func firstOf(cursor []string) string {
	if cursor == nil {
		return ""
	}
	return cursor[0]
}

// --- namespaces ---

type namespaceBody struct {
	Namespace  []string          `json:"namespace"`
	Properties map[string]string `json:"properties"`
}

func (s *Server) listNamespaces(c echo.Context) error {
	var parent catalog.Namespace
	if p := c.QueryParam("parent"); p != "" {
		parent = catalog.Namespace(strings.Split(p, namespaceSeparator))
		if err := parent.Validate(); err != nil {
			return err
		}
	}
	res := policy.Resource{Kind: "service"}
	if len(parent) > 0 {
		res = namespaceResource(parent)
	}
	if err := s.authorize(c, policy.ActionNamespaceList, res); err != nil {
		return err
	}
	after, limit, err := s.pageParams(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	nss, next, err := listing[catalog.Namespace]{
		fetch: func(after []string, n int) ([]catalog.Namespace, error) {
			return s.deps.Catalog.ListNamespaces(ctx, parent, firstOf(after), n)
		},
		cursor: func(ns catalog.Namespace) []string { return []string{ns.String()} },
		keep: func(ns catalog.Namespace) (bool, error) {
			d, err := s.decide(c, policy.ActionNamespaceRead, namespaceResource(ns))
			return d.Allow, err
		},
	}.page(after, limit, s.listScan)
	if err != nil {
		return err
	}
	out := struct {
		Namespaces    [][]string `json:"namespaces"`
		NextPageToken string     `json:"next-page-token,omitempty"`
	}{Namespaces: make([][]string, 0, len(nss)), NextPageToken: s.nextPage(c, icebergPage, next)}
	for _, ns := range nss {
		out.Namespaces = append(out.Namespaces, ns)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) createNamespace(c echo.Context) error {
	var body namespaceBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ns := catalog.Namespace(body.Namespace)
	if err := s.authorize(c, policy.ActionNamespaceCreate, namespaceResource(ns)); err != nil {
		return err
	}
	if err := s.deps.Catalog.CreateNamespace(c.Request().Context(), ns, body.Properties, s.auditInTx(c, http.StatusOK)); err != nil {
		return err
	}
	reqOf(c).audited = true
	if body.Properties == nil {
		body.Properties = map[string]string{}
	}
	return c.JSON(http.StatusOK, body)
}

func (s *Server) namespaceFromPath(c echo.Context, action policy.Action) (catalog.Namespace, error) {
	ns, err := pathNamespace(c)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, action, namespaceResource(ns)); err != nil {
		return nil, err
	}
	return ns, nil
}

func (s *Server) loadNamespace(c echo.Context) error {
	ns, err := s.namespaceFromPath(c, policy.ActionNamespaceRead)
	if err != nil {
		return err
	}
	props, err := s.deps.Catalog.NamespaceProperties(c.Request().Context(), ns)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, namespaceBody{Namespace: ns, Properties: props})
}

func (s *Server) namespaceExists(c echo.Context) error {
	ns, err := s.namespaceFromPath(c, policy.ActionNamespaceRead)
	if err != nil {
		return err
	}
	if _, err := s.deps.Catalog.NamespaceProperties(c.Request().Context(), ns); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) dropNamespace(c echo.Context) error {
	ns, err := s.namespaceFromPath(c, policy.ActionNamespaceDrop)
	if err != nil {
		return err
	}
	if err := s.deps.Catalog.DropNamespace(c.Request().Context(), ns, s.auditInTx(c, http.StatusNoContent)); err != nil {
		return err
	}
	reqOf(c).audited = true
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) updateNamespaceProperties(c echo.Context) error {
	var body struct {
		Removals []string          `json:"removals"`
		Updates  map[string]string `json:"updates"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ns, err := s.namespaceFromPath(c, policy.ActionNamespaceUpdate)
	if err != nil {
		return err
	}
	res, err := s.deps.Catalog.UpdateNamespaceProperties(c.Request().Context(), ns, body.Removals, body.Updates, s.auditInTx(c, http.StatusOK))
	if err != nil {
		return err
	}
	reqOf(c).audited = true
	return c.JSON(http.StatusOK, map[string][]string{"updated": res.Updated, "removed": res.Removed, "missing": res.Missing})
}

// --- tables ---

type tableIdentifier struct {
	Namespace []string `json:"namespace"`
	Name      string   `json:"name"`
}

func (s *Server) listTables(c echo.Context) error {
	return s.listEntries(c, catalog.KindTable, policy.ActionTableList, policy.ActionTableLoad)
}

// listEntries lists the tables or views (kind) of the path's namespace; a principal sees only
// those it may load.
func (s *Server) listEntries(c echo.Context, kind string, listAction, loadAction policy.Action) error {
	ns, err := s.namespaceFromPath(c, listAction)
	if err != nil {
		return err
	}
	after, limit, err := s.pageParams(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	names, next, err := listing[string]{
		fetch: func(after []string, n int) ([]string, error) {
			return s.deps.Catalog.ListEntries(ctx, ns, kind, firstOf(after), n)
		},
		cursor: func(name string) []string { return []string{name} },
		keep: func(name string) (bool, error) {
			d, err := s.decide(c, loadAction, policy.Resource{Kind: kind, Namespace: ns.String(), Name: name})
			return d.Allow, err
		},
	}.page(after, limit, s.listScan)
	if err != nil {
		return err
	}
	out := struct {
		Identifiers   []tableIdentifier `json:"identifiers"`
		NextPageToken string            `json:"next-page-token,omitempty"`
	}{Identifiers: make([]tableIdentifier, 0, len(names)), NextPageToken: s.nextPage(c, icebergPage, next)}
	for _, n := range names {
		out.Identifiers = append(out.Identifiers, tableIdentifier{Namespace: ns, Name: n})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) tableFromPath(c echo.Context, action policy.Action) (catalog.Namespace, string, error) {
	ns, err := pathNamespace(c)
	if err != nil {
		return nil, "", err
	}
	name, err := pathName(c, "table")
	if err != nil {
		return nil, "", err
	}
	if err := s.authorize(c, action, tableResource(ns, name)); err != nil {
		if action == policy.ActionTableLoad && s.parentTableLoadable(c, ns, name) {
			// Java clients resolve db.t.snapshots and db.t.branch_x by first loading table
			// "snapshots" of namespace db.t, and fall back only on NoSuchTable: a principal
			// that may load db.t learns nothing it could not see by being told so.
			return nil, "", catalog.NoSuchTableError(ns, name)
		}
		return nil, "", err
	}
	return ns, name, nil
}

// parentTableLoadable reports whether ns.name names no table while ns itself names a table
// the principal may load (ns.name is then a metadata table or a branch of it).
func (s *Server) parentTableLoadable(c echo.Context, ns catalog.Namespace, name string) bool {
	if len(ns) < 2 {
		return false
	}
	parent, parentName := ns[:len(ns)-1], ns[len(ns)-1]
	d, err := s.decide(c, policy.ActionTableLoad, tableResource(parent, parentName))
	if err != nil || !d.Allow {
		return false
	}
	if _, _, err := s.deps.Catalog.LoadTable(c.Request().Context(), ns, name); !errors.Is(err, catalog.ErrNoSuchTable) {
		return false
	}
	_, _, err = s.deps.Catalog.LoadTable(c.Request().Context(), parent, parentName)
	return err == nil
}

type createTableRequest struct {
	Name          string                 `json:"name"`
	Location      string                 `json:"location"`
	Schema        *iceberg.Schema        `json:"schema"`
	PartitionSpec *iceberg.PartitionSpec `json:"partition-spec"`
	WriteOrder    *table.SortOrder       `json:"write-order"`
	StageCreate   bool                   `json:"stage-create"`
	Properties    map[string]string      `json:"properties"`
}

func (s *Server) createTable(c echo.Context) error {
	var body createTableRequest
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ns, err := pathNamespace(c)
	if err != nil {
		return err
	}
	if err := s.authorize(c, policy.ActionTableCreate, tableResource(ns, body.Name)); err != nil {
		return err
	}
	nt := catalog.NewTable{Namespace: ns, Name: body.Name, Schema: body.Schema, Spec: body.PartitionSpec,
		SortOrder: body.WriteOrder, Location: body.Location, Properties: body.Properties, CreatedBy: reqOf(c).principal.Subject}
	ctx := c.Request().Context()
	if body.StageCreate {
		md, err := s.deps.Catalog.StageTable(ctx, nt)
		if err != nil {
			return err
		}
		return s.writeTable(c, http.StatusOK, ns, body.Name, md, "", false)
	}
	md, loc, err := s.deps.Catalog.CreateTable(ctx, nt, s.auditInTx(c, http.StatusOK))
	if err != nil {
		return err
	}
	reqOf(c).audited = true
	return s.writeTable(c, http.StatusOK, ns, body.Name, md, loc, false)
}

// writeTable answers a LoadTableResult for table ns.name. refsOnly keeps only the snapshots
// that a branch or tag references (snapshots=refs).
func (s *Server) writeTable(c echo.Context, status int, ns catalog.Namespace, name string, md table.Metadata, loc string, refsOnly bool) error {
	raw, err := s.tableJSON(md, loc, refsOnly)
	if err != nil {
		return err
	}
	cfg, err := s.tableConfig(c, ns, name, md.Location()) // see storage.go
	if err != nil {
		return err
	}
	return writeMetadataResult(c, status, loc, raw, cfg)
}

func (s *Server) tableJSON(md table.Metadata, loc string, refsOnly bool) (json.RawMessage, error) {
	if loc != "" {
		if b, ok := s.tables.get(loc, refsOnly); ok {
			return b, nil
		}
	}
	b, err := json.Marshal(md)
	if err != nil {
		return nil, err
	}
	if refsOnly {
		if b, err = onlyReferencedSnapshots(b); err != nil {
			return nil, err
		}
	}
	if loc != "" {
		s.tables.put(loc, refsOnly, b)
	}
	return b, nil
}

// onlyReferencedSnapshots drops from metadata JSON the snapshots no ref points at.
func onlyReferencedSnapshots(b []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	var refs map[string]struct {
		SnapshotID int64 `json:"snapshot-id"`
	}
	if r, ok := m["refs"]; ok {
		if err := json.Unmarshal(r, &refs); err != nil {
			return nil, err
		}
	}
	keep := map[int64]bool{}
	for _, r := range refs {
		keep[r.SnapshotID] = true
	}
	var snaps []map[string]json.RawMessage
	if raw, ok := m["snapshots"]; ok {
		if err := json.Unmarshal(raw, &snaps); err != nil {
			return nil, err
		}
	}
	kept := make([]map[string]json.RawMessage, 0, len(snaps))
	for _, sn := range snaps {
		var id int64
		if err := json.Unmarshal(sn["snapshot-id"], &id); err != nil {
			return nil, err
		}
		if keep[id] {
			kept = append(kept, sn)
		}
	}
	nb, err := json.Marshal(kept)
	if err != nil {
		return nil, err
	}
	m["snapshots"] = nb
	return json.Marshal(m)
}

func etagOf(loc string, refsOnly bool) string {
	h := sha256.Sum256([]byte(loc))
	tag := hex.EncodeToString(h[:12])
	if refsOnly {
		tag += "-refs"
	}
	return `"` + tag + `"`
}

func (s *Server) loadTable(c echo.Context) error {
	ns, name, err := s.tableFromPath(c, policy.ActionTableLoad)
	if err != nil {
		return err
	}
	refsOnly := false
	switch c.QueryParam("snapshots") {
	case "", "all":
	case "refs":
		refsOnly = true
	default:
		return errBadRequest("snapshots must be all or refs")
	}
	md, loc, err := s.deps.Catalog.LoadTable(c.Request().Context(), ns, name)
	if err != nil {
		return err
	}
	tag := etagOf(loc, refsOnly)
	c.Response().Header().Set("ETag", tag)
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" && (inm == tag || inm == "*") {
		return c.NoContent(http.StatusNotModified)
	}
	return s.writeTable(c, http.StatusOK, ns, name, md, loc, refsOnly)
}

func (s *Server) tableExists(c echo.Context) error {
	ns, name, err := s.tableFromPath(c, policy.ActionTableLoad)
	if err != nil {
		return err
	}
	if _, _, err := s.deps.Catalog.LoadTable(c.Request().Context(), ns, name); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// commitTableRequest is the spec's CommitTableRequest.
type commitTableRequest struct {
	Identifier   *tableIdentifier   `json:"identifier"`
	Requirements table.Requirements `json:"requirements"`
	Updates      table.Updates      `json:"updates"`
}

func (s *Server) commitTable(c echo.Context) error {
	var body commitTableRequest
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ns, name, err := s.tableFromPath(c, policy.ActionTableCommit)
	if err != nil {
		return err
	}
	changes := []catalog.TableChange{{Namespace: ns, Name: name, Requirements: body.Requirements, Updates: body.Updates}}
	out, err := s.deps.Catalog.CommitTables(c.Request().Context(), changes, s.catalogCommitHook(c, http.StatusOK, changes))
	if err != nil {
		return err
	}
	reqOf(c).audited = true
	raw := json.RawMessage(out[0].JSON)
	if raw != nil {
		s.tables.put(out[0].Location, false, raw)
	} else if raw, err = s.tableJSON(out[0].Metadata, out[0].Location, false); err != nil {
		return err
	}
	return writeMetadataResult(c, http.StatusOK, out[0].Location, raw, nil)
}

func (s *Server) dropTable(c echo.Context) error {
	ns, name, err := s.tableFromPath(c, policy.ActionTableDrop)
	if err != nil {
		return err
	}
	purge := false
	if p := c.QueryParam("purgeRequested"); p != "" {
		if purge, err = parseBool(p); err != nil {
			return errBadRequest("purgeRequested must be true or false")
		}
	}
	if err := s.deps.Catalog.DeleteDataset(c.Request().Context(), ns, name, purge, s.auditInTx(c, http.StatusNoContent)); err != nil {
		return err
	}
	reqOf(c).audited = true
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) registerTable(c echo.Context) error {
	var body struct {
		Name             string `json:"name"`
		MetadataLocation string `json:"metadata-location"`
		Overwrite        bool   `json:"overwrite"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ns, err := pathNamespace(c)
	if err != nil {
		return err
	}
	if err := s.authorize(c, policy.ActionTableRegister, tableResource(ns, body.Name)); err != nil {
		return err
	}
	if body.Overwrite {
		return errBadRequest("overwrite is not supported: drop the table first")
	}
	md, err := s.deps.Catalog.RegisterTable(c.Request().Context(), ns, body.Name, body.MetadataLocation, reqOf(c).principal.Subject, s.auditInTx(c, http.StatusOK))
	if err != nil {
		return err
	}
	reqOf(c).audited = true
	return s.writeTable(c, http.StatusOK, ns, body.Name, md, body.MetadataLocation, false)
}

type renameRequest struct {
	Source      tableIdentifier `json:"source"`
	Destination tableIdentifier `json:"destination"`
}

func (s *Server) renameTable(c echo.Context) error {
	return s.rename(c, catalog.KindTable, policy.ActionTableRename, policy.ActionTableCreate)
}

// rename moves a table or view: it needs the rename action on the source and the create
// action on the destination.
func (s *Server) rename(c echo.Context, kind string, renameAction, createAction policy.Action) error {
	var body renameRequest
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	fromNS, toNS := catalog.Namespace(body.Source.Namespace), catalog.Namespace(body.Destination.Namespace)
	for _, ns := range []catalog.Namespace{fromNS, toNS} {
		if err := ns.Validate(); err != nil {
			return err
		}
	}
	res := func(ns catalog.Namespace, n string) policy.Resource {
		return policy.Resource{Kind: kind, Namespace: ns.String(), Name: n}
	}
	if err := s.authorize(c, renameAction, res(fromNS, body.Source.Name)); err != nil {
		return err
	}
	d, err := s.decide(c, createAction, res(toNS, body.Destination.Name))
	if err != nil {
		return err
	}
	if !d.Allow {
		reqOf(c).decision = d
		return errForbidden(d.Reason)
	}
	if err := s.deps.Catalog.Rename(c.Request().Context(), kind, fromNS, body.Source.Name, toNS, body.Destination.Name,
		s.auditInTx(c, http.StatusNoContent)); err != nil {
		return err
	}
	reqOf(c).audited = true
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) commitTransaction(c echo.Context) error {
	var body struct {
		TableChanges []commitTableRequest `json:"table-changes"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if err := s.authorize(c, policy.ActionTransactionCommit, policy.Resource{Kind: "service"}); err != nil {
		return err
	}
	changes := make([]catalog.TableChange, 0, len(body.TableChanges))
	for i, tc := range body.TableChanges {
		if tc.Identifier == nil {
			return errBadRequest("table-changes[%d]: identifier is required", i)
		}
		ns := catalog.Namespace(tc.Identifier.Namespace)
		if err := ns.Validate(); err != nil {
			return err
		}
		d, err := s.decide(c, policy.ActionTableCommit, tableResource(ns, tc.Identifier.Name))
		if err != nil {
			return err
		}
		if !d.Allow {
			reqOf(c).decision = d
			return errForbidden(d.Reason)
		}
		changes = append(changes, catalog.TableChange{Namespace: ns, Name: tc.Identifier.Name, Requirements: tc.Requirements, Updates: tc.Updates})
	}
	if _, err := s.deps.Catalog.CommitTables(c.Request().Context(), changes, s.catalogCommitHook(c, http.StatusNoContent, changes)); err != nil {
		return err
	}
	reqOf(c).audited = true
	return c.NoContent(http.StatusNoContent)
}
