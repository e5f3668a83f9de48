package gateway

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/api"
)

// contract validates requests against api/openapi.yaml. Routes are matched by echo; each
// echo route maps to one operation of the spec.
type contract struct {
	doc        *openapi3.T
	routes     map[string]*routers.Route // "METHOD /spec/{path}"
	opts       *openapi3filter.Options
	streamOpts *openapi3filter.Options // for operations whose bodies are streamed (no body validation)
}

func newContract() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.Spec)
	if err != nil {
		return nil, fmt.Errorf("gateway: load api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("gateway: api/openapi.yaml is invalid: %w", err)
	}
	k := &contract{
		doc:    doc,
		routes: map[string]*routers.Route{},
		opts: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			// Our own decoder reads bodies again; the validator must not consume them.
		},
		streamOpts: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeRequestBody: true},
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			k.routes[method+" "+path] = &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}
	return k, nil
}

// specPath turns echo's /a/:b into the spec's /a/{b}.
func specPath(echoPath string) string {
	parts := strings.Split(echoPath, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// checkRoutes fails when a registered route is missing from the spec or the spec names a
// route the server lacks.
func (k *contract) checkRoutes(routes []*echo.Route) error {
	registered := map[string]bool{}
	var problems []string
	for _, r := range routes {
		if strings.HasPrefix(r.Path, IcebergPrefix+"/") {
			continue // the Iceberg REST catalog follows the Iceberg spec, not ours
		}
		key := r.Method + " " + specPath(r.Path)
		registered[key] = true
		if k.routes[key] == nil {
			problems = append(problems, "route "+key+" is not in api/openapi.yaml")
		}
	}
	for key := range k.routes {
		if !registered[key] {
			problems = append(problems, "api/openapi.yaml names "+key+" but the server has no such route")
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return errors.New("gateway: routes and contract disagree: " + strings.Join(problems, "; "))
	}
	return nil
}

// validateRequest checks a request's parameters and body against the contract.
func (s *Server) validateRequest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := checkRequestText(c.Request()); err != nil {
			return err
		}
		route := s.contract.routes[c.Request().Method+" "+specPath(c.Path())]
		if route == nil {
			return next(c)
		}
		req := c.Request()
		if req.ContentLength != 0 && route.Operation.RequestBody != nil {
			ct := req.Header.Get(echo.HeaderContentType)
			mt, _, _ := strings.Cut(ct, ";")
			types := slices.Sorted(maps.Keys(route.Operation.RequestBody.Value.Content))
			if !slices.Contains(types, strings.ToLower(strings.TrimSpace(mt))) {
				return &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
					Message: fmt.Sprintf("Content-Type %q is not supported; send %s", ct, strings.Join(types, " or "))}
			}
		}
		opts := s.contract.opts
		if _, stream := route.Operation.Extensions["x-lakegate-stream-body"]; stream {
			// A streamed body (records) is checked by its own decoder, once, as it is read.
			opts = s.contract.streamOpts
		} else if req.ContentLength != 0 && route.Operation.RequestBody != nil {
			// Before the validator, which re-encodes the body it decodes (invalid UTF-8
			// becomes U+FFFD).
			body, err := readBody(req)
			if err != nil {
				return err
			}
			if err := checkJSONText(body); err != nil {
				return err
			}
		}
		params := map[string]string{}
		for i, name := range c.ParamNames() {
			params[name] = c.ParamValues()[i]
		}
		err := openapi3filter.ValidateRequest(req.Context(), &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route, Options: opts,
		})
		if err != nil {
			return contractError(err)
		}
		return next(c)
	}
}

// contractError turns a validation failure into a 400 naming the parameter or body field.
func contractError(err error) error {
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		return maxBytes
	}
	if errors.Is(err, errSlowBody) {
		return err
	}
	var (
		re *openapi3filter.RequestError
		se *openapi3.SchemaError
		pe *openapi3filter.ParseError
	)
	msg := err.Error()
	if errors.As(err, &pe) {
		return errBadRequest("malformed JSON in request body: %s", pe.Error())
	}
	if errors.As(err, &re) {
		switch {
		case re.Parameter != nil:
			msg = fmt.Sprintf("parameter %q (%s) is invalid", re.Parameter.Name, re.Parameter.In)
		case re.RequestBody != nil:
			msg = "request body is invalid"
		}
		if errors.As(err, &se) {
			field := strings.Join(se.JSONPointer(), ".")
			if field != "" {
				msg += ": field " + field
			}
			msg += ": " + se.Reason
		} else if re.Err != nil {
			msg += ": " + re.Err.Error()
		}
	}
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_argument", Message: msg}
}
