package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/internal/auth"
	"github.com/lakegate/lakegate/policy"
)

// Clients stores service clients, the machine identities of the token endpoint.
type Clients interface {
	Create(ctx context.Context, name string, roles []string, createdBy string, hook func(context.Context, pgx.Tx) error) (auth.Client, string, error)
	List(ctx context.Context) ([]auth.Client, error)
	Revoke(ctx context.Context, id string, hook func(context.Context, pgx.Tx) error) error
	Authenticate(ctx context.Context, clientID, secret string) (auth.Client, error)
}

// serviceClientResource is what every service client operation is authorized on.
var serviceClientResource = policy.Resource{Kind: "service_client"}

type serviceClientCreate struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// serviceClientCreated is the only response that carries the client's secret.
type serviceClientCreated struct {
	auth.Client
	ClientSecret string `json:"client_secret"`
}

type serviceClientList struct {
	ServiceClients []auth.Client `json:"service_clients"`
}

// clientStoreError maps the store's errors to what the client sees.
func clientStoreError(err error) error {
	switch {
	case errors.Is(err, auth.ErrInvalidClientSpec):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: err.Error()}
	case errors.Is(err, auth.ErrNoSuchClient):
		return errNotFound("%s", err.Error())
	}
	return err
}

func (s *Server) createServiceClient(c echo.Context) error {
	var body serviceClientCreate
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if err := checkName("name", body.Name); err != nil {
		return err
	}
	if err := s.authorize(c, policy.ActionGrantManage, serviceClientResource); err != nil {
		return err
	}
	r := reqOf(c)
	r.details = map[string]any{"name": body.Name, "roles": body.Roles}
	created, secret, err := s.deps.Clients.Create(c.Request().Context(), body.Name, body.Roles, r.principal.Subject, s.auditInTx(c, http.StatusCreated))
	if err != nil {
		return clientStoreError(err)
	}
	r.audited = true
	s.log.Info("service client created", "request_id", r.id, "client_id", created.ID, "created_by", created.CreatedBy)
	c.Response().Header().Set(echo.HeaderLocation, "/v1/service-clients/"+created.ID)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusCreated, serviceClientCreated{Client: created, ClientSecret: secret})
}

func (s *Server) listServiceClients(c echo.Context) error {
	if err := s.authorize(c, policy.ActionGrantManage, serviceClientResource); err != nil {
		return err
	}
	cs, err := s.deps.Clients.List(c.Request().Context())
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []auth.Client{}
	}
	return c.JSON(http.StatusOK, serviceClientList{ServiceClients: cs})
}

func (s *Server) revokeServiceClient(c echo.Context) error {
	if err := s.authorize(c, policy.ActionGrantManage, serviceClientResource); err != nil {
		return err
	}
	id := c.Param("id")
	r := reqOf(c)
	r.details = map[string]any{"client_id": id}
	if err := s.deps.Clients.Revoke(c.Request().Context(), id, s.auditInTx(c, http.StatusNoContent)); err != nil {
		return clientStoreError(err)
	}
	r.audited = true
	s.log.Info("service client revoked", "request_id", r.id, "client_id", id)
	return c.NoContent(http.StatusNoContent)
}
