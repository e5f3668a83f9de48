package gateway

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/view"
	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/policy"
)

// ViewCatalog is the part of the Iceberg catalog core that serves views. Listing and
// renaming views go through Catalog's ListEntries and Rename with catalog.KindView.
type ViewCatalog interface {
	CreateView(ctx context.Context, ns catalog.Namespace, name string, v catalog.NewView, hook catalog.TxHook) (view.Metadata, string, error)
	LoadView(ctx context.Context, ns catalog.Namespace, name string) (view.Metadata, string, error)
	CommitView(ctx context.Context, ns catalog.Namespace, name string, reqs []view.Requirement, updates []view.Update, hook catalog.TxHook) (view.Metadata, string, error)
	DropView(ctx context.Context, ns catalog.Namespace, name string, hook catalog.TxHook) error
	RegisterView(ctx context.Context, ns catalog.Namespace, name, metadataLocation string, hook catalog.TxHook) (view.Metadata, error)
}

// icebergViewRoutes registers the Iceberg REST catalog's view routes on the /iceberg/v1 group.
func (s *Server) icebergViewRoutes(g *echo.Group) {
	g.GET("/namespaces/:namespace/views", s.listViews)
	g.POST("/namespaces/:namespace/views", s.createView)
	g.GET("/namespaces/:namespace/views/:view", s.loadView)
	g.HEAD("/namespaces/:namespace/views/:view", s.viewExists)
	g.POST("/namespaces/:namespace/views/:view", s.replaceView)
	g.DELETE("/namespaces/:namespace/views/:view", s.dropView)
	g.POST("/views/rename", s.renameView)
	g.POST("/namespaces/:namespace/register-view", s.registerView)
}

// icebergViewEndpoints are the view routes advertised by GET /v1/config, in the spec's wire form.
var icebergViewEndpoints = []string{
	"GET /v1/{prefix}/namespaces/{namespace}/views",
	"POST /v1/{prefix}/namespaces/{namespace}/views",
	"GET /v1/{prefix}/namespaces/{namespace}/views/{view}",
	"HEAD /v1/{prefix}/namespaces/{namespace}/views/{view}",
	"POST /v1/{prefix}/namespaces/{namespace}/views/{view}",
	"DELETE /v1/{prefix}/namespaces/{namespace}/views/{view}",
	"POST /v1/{prefix}/views/rename",
	"POST /v1/{prefix}/namespaces/{namespace}/register-view",
}

func viewResource(ns catalog.Namespace, name string) policy.Resource {
	return policy.Resource{Kind: policy.KindView, Namespace: ns.String(), Name: name}
}

func (s *Server) viewFromPath(c echo.Context, action policy.Action) (catalog.Namespace, string, error) {
	ns, err := pathNamespace(c)
	if err != nil {
		return nil, "", err
	}
	name, err := pathName(c, "view")
	if err != nil {
		return nil, "", err
	}
	if err := s.authorize(c, action, viewResource(ns, name)); err != nil {
		if action == policy.ActionViewLoad && s.tableOfNameLoadable(c, ns, name) {
			// Engines (Trino) look every name up as a view first and go on to the table only
			// on NoSuchView: a principal that may load table ns.name learns nothing new, since
			// a table and a view never share a name.
			return nil, "", catalog.NoSuchViewError(ns, name)
		}
		return nil, "", err
	}
	return ns, name, nil
}

// tableOfNameLoadable reports whether ns.name is a table the principal may load.
func (s *Server) tableOfNameLoadable(c echo.Context, ns catalog.Namespace, name string) bool {
	d, err := s.decide(c, policy.ActionTableLoad, tableResource(ns, name))
	if err != nil || !d.Allow {
		return false
	}
	_, _, err = s.deps.Catalog.LoadTable(c.Request().Context(), ns, name)
	return err == nil
}

// loadViewResult is the spec's LoadViewResult.
type loadViewResult struct {
	MetadataLocation string            `json:"metadata-location"`
	Metadata         json.RawMessage   `json:"metadata"`
	Config           map[string]string `json:"config"`
}

// writeView answers a LoadViewResult.
func (s *Server) writeView(c echo.Context, status int, md view.Metadata, loc string) error {
	raw, err := json.Marshal(md)
	if err != nil {
		return err
	}
	return c.JSON(status, loadViewResult{MetadataLocation: loc, Metadata: raw, Config: map[string]string{}})
}

func (s *Server) listViews(c echo.Context) error {
	return s.listEntries(c, catalog.KindView, policy.ActionViewList, policy.ActionViewLoad)
}

// createViewRequest is the spec's CreateViewRequest.
type createViewRequest struct {
	Name        string            `json:"name"`
	Location    string            `json:"location"`
	Schema      *iceberg.Schema   `json:"schema"`
	ViewVersion *view.Version     `json:"view-version"`
	Properties  map[string]string `json:"properties"`
}

func (s *Server) createView(c echo.Context) error {
	var body createViewRequest
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ns, err := pathNamespace(c)
	if err != nil {
		return err
	}
	if err := s.authorize(c, policy.ActionViewCreate, viewResource(ns, body.Name)); err != nil {
		return err
	}
	nv := catalog.NewView{Schema: body.Schema, Version: body.ViewVersion, Location: body.Location, Properties: body.Properties}
	md, loc, err := s.deps.Catalog.CreateView(c.Request().Context(), ns, body.Name, nv, s.auditInTx(c, http.StatusOK))
	if err != nil {
		return err
	}
	reqOf(c).audited = true
	return s.writeView(c, http.StatusOK, md, loc)
}

func (s *Server) loadView(c echo.Context) error {
	ns, name, err := s.viewFromPath(c, policy.ActionViewLoad)
	if err != nil {
		return err
	}
	md, loc, err := s.deps.Catalog.LoadView(c.Request().Context(), ns, name)
	if err != nil {
		return err
	}
	return s.writeView(c, http.StatusOK, md, loc)
}

func (s *Server) viewExists(c echo.Context) error {
	ns, name, err := s.viewFromPath(c, policy.ActionViewLoad)
	if err != nil {
		return err
	}
	if _, _, err := s.deps.Catalog.LoadView(c.Request().Context(), ns, name); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// commitViewRequest is the spec's CommitViewRequest.
type commitViewRequest struct {
	Identifier   *tableIdentifier  `json:"identifier"`
	Requirements view.Requirements `json:"requirements"`
	Updates      view.Updates      `json:"updates"`
}

func (s *Server) replaceView(c echo.Context) error {
	var body commitViewRequest
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ns, name, err := s.viewFromPath(c, policy.ActionViewCommit)
	if err != nil {
		return err
	}
	md, loc, err := s.deps.Catalog.CommitView(c.Request().Context(), ns, name, body.Requirements, body.Updates, s.auditInTx(c, http.StatusOK))
	if err != nil {
		return err
	}
	reqOf(c).audited = true
	return s.writeView(c, http.StatusOK, md, loc)
}

func (s *Server) dropView(c echo.Context) error {
	ns, name, err := s.viewFromPath(c, policy.ActionViewDrop)
	if err != nil {
		return err
	}
	if err := s.deps.Catalog.DropView(c.Request().Context(), ns, name, s.auditInTx(c, http.StatusNoContent)); err != nil {
		return err
	}
	reqOf(c).audited = true
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) renameView(c echo.Context) error {
	return s.rename(c, catalog.KindView, policy.ActionViewRename, policy.ActionViewCreate)
}

// registerViewRequest is the spec's RegisterViewRequest.
type registerViewRequest struct {
	Name             string `json:"name"`
	MetadataLocation string `json:"metadata-location"`
}

// registerView adopts an existing view metadata file; it needs view.register, which neither
// view.* nor * includes.
func (s *Server) registerView(c echo.Context) error {
	var body registerViewRequest
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ns, err := pathNamespace(c)
	if err != nil {
		return err
	}
	if err := s.authorize(c, policy.ActionViewRegister, viewResource(ns, body.Name)); err != nil {
		return err
	}
	md, err := s.deps.Catalog.RegisterView(c.Request().Context(), ns, body.Name, body.MetadataLocation, s.auditInTx(c, http.StatusOK))
	if err != nil {
		return err
	}
	reqOf(c).audited = true
	return s.writeView(c, http.StatusOK, md, body.MetadataLocation)
}
