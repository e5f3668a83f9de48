package gateway

import (
	"cmp"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/policy"
)

type grantCreate struct {
	PrincipalType string `json:"principal_type"`
	Principal     string `json:"principal"`
	Privilege     string `json:"privilege"`
	ScopeType     string `json:"scope_type"`
	Namespace     string `json:"namespace"`
	Name          string `json:"name"`
}

func grantResource(g policy.Grant) policy.Resource {
	if g.Namespace == "*" {
		return policy.Resource{Kind: "grant"}
	}
	return policy.Resource{Kind: "grant", Namespace: g.Namespace, Name: g.Name}
}

func (s *Server) createGrant(c echo.Context) error {
	var body grantCreate
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if err := cmp.Or(checkName("principal", body.Principal), checkName("namespace", body.Namespace), checkName("name", body.Name)); err != nil {
		return err
	}
	g := policy.Grant{PrincipalType: body.PrincipalType, Principal: body.Principal, Privilege: body.Privilege,
		ScopeType: body.ScopeType, Namespace: body.Namespace, Name: body.Name, CreatedBy: reqOf(c).principal.Subject}
	if err := s.authorize(c, policy.ActionGrantManage, grantResource(g)); err != nil {
		return err
	}
	created, err := s.deps.Grants.Create(c.Request().Context(), g, s.auditInTx(c, http.StatusCreated))
	if err != nil {
		return err
	}
	reqOf(c).audited = true
	c.Response().Header().Set(echo.HeaderLocation, "/v1/grants/"+created.ID)
	return c.JSON(http.StatusCreated, created)
}

type grantList struct {
	Grants []policy.Grant `json:"grants"`
}

func (s *Server) listGrants(c echo.Context) error {
	f := policy.GrantFilter{Principal: c.QueryParam("principal"), PrincipalType: c.QueryParam("principal_type"), Namespace: c.QueryParam("namespace")}
	res := policy.Resource{Kind: "grant", Namespace: f.Namespace}
	if err := s.authorize(c, policy.ActionGrantManage, res); err != nil {
		return err
	}
	gs, err := s.deps.Grants.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	// The list shows only the grants the principal may manage, whatever the filters matched.
	out := grantList{Grants: []policy.Grant{}}
	for _, g := range gs {
		d, err := s.decide(c, policy.ActionGrantManage, grantResource(g))
		if err != nil {
			return err
		}
		if d.Allow {
			out.Grants = append(out.Grants, g)
		}
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) revokeGrant(c echo.Context) error {
	id := c.Param("id")
	g, err := s.deps.Grants.Get(c.Request().Context(), id)
	if err != nil {
		// Authorize on the service before saying whether the grant exists.
		if aerr := s.authorize(c, policy.ActionGrantManage, policy.Resource{Kind: "grant"}); aerr != nil {
			return aerr
		}
		return err
	}
	if err := s.authorize(c, policy.ActionGrantManage, grantResource(g)); err != nil {
		return err
	}
	if err := s.deps.Grants.Revoke(c.Request().Context(), id, s.auditInTx(c, http.StatusNoContent)); err != nil {
		return err
	}
	reqOf(c).audited = true
	return c.NoContent(http.StatusNoContent)
}
