package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/policy"
	"github.com/lakegate/lakegate/quality"
)

// datasetCreate is the body of POST /v1/datasets.
type datasetCreate struct {
	Namespace     string                   `json:"namespace"`
	Name          string                   `json:"name"`
	Description   string                   `json:"description"`
	Owner         string                   `json:"owner"`
	Tags          []string                 `json:"tags"`
	Schema        catalog.Schema           `json:"schema"`
	Partitioning  []catalog.PartitionField `json:"partitioning"`
	Quality       []quality.Rule           `json:"quality"`
	UnknownFields string                   `json:"unknown_fields"`
}

// datasetJSON is a dataset as our API returns it.
type datasetJSON struct {
	Namespace        string                   `json:"namespace"`
	Name             string                   `json:"name"`
	Description      string                   `json:"description"`
	Owner            string                   `json:"owner"`
	Tags             []string                 `json:"tags"`
	Schema           catalog.Schema           `json:"schema"`
	Partitioning     []catalog.PartitionField `json:"partitioning"`
	Quality          json.RawMessage          `json:"quality"`
	UnknownFields    string                   `json:"unknown_fields"`
	Version          int64                    `json:"version"`
	CreatedBy        string                   `json:"created_by"`
	CreatedAt        time.Time                `json:"created_at"`
	UpdatedAt        time.Time                `json:"updated_at"`
	MetadataLocation string                   `json:"metadata_location"`
}

func toJSON(d catalog.Dataset) datasetJSON {
	return datasetJSON{
		Namespace: d.Namespace.String(), Name: d.Name, Description: d.Description, Owner: d.Owner, Tags: d.Tags,
		Schema: d.Schema, Partitioning: d.Partitioning, Quality: d.Quality, UnknownFields: d.UnknownFields,
		Version: d.Version, CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		MetadataLocation: d.MetadataLocation,
	}
}

func datasetResource(ns, name string) policy.Resource {
	return policy.Resource{Kind: "dataset", Namespace: ns, Name: name}
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// validateRules checks quality rules against a schema and returns them normalised as JSON.
func validateRules(rules []quality.Rule, sc catalog.Schema) (json.RawMessage, error) {
	if rules == nil {
		rules = []quality.Rule{}
	}
	rules = quality.Normalize(rules)
	if err := quality.Validate(rules, sc.FieldType); err != nil {
		return nil, err
	}
	b, err := json.Marshal(rules)
	if err != nil {
		return nil, fmt.Errorf("encode quality rules: %w", err)
	}
	return b, nil
}

func (s *Server) createDataset(c echo.Context) error {
	var body datasetCreate
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if err := checkOwnerTags(body.Owner, body.Tags); err != nil {
		return err
	}
	if err := s.authorize(c, policy.ActionDatasetCreate, datasetResource(body.Namespace, body.Name)); err != nil {
		return err
	}
	ns, err := catalog.ParseNamespace(body.Namespace)
	if err != nil {
		return err
	}
	if err := body.Schema.Validate(); err != nil {
		return prefixProblems("schema", err)
	}
	q, err := validateRules(body.Quality, body.Schema)
	if err != nil {
		return err
	}
	d, err := s.deps.Datasets.CreateDataset(c.Request().Context(), catalog.Dataset{
		Namespace: ns, Name: body.Name, Description: body.Description, Owner: body.Owner, Tags: body.Tags,
		Schema: body.Schema, Partitioning: body.Partitioning, Quality: q, UnknownFields: body.UnknownFields,
		CreatedBy: reqOf(c).principal.Subject,
	}, s.auditInTx(c, http.StatusCreated))
	if err != nil {
		return err
	}
	reqOf(c).audited = true
	c.Response().Header().Set(echo.HeaderLocation, "/v1/datasets/"+d.Namespace.String()+"/"+d.Name)
	c.Response().Header().Set("ETag", etag(d.Version))
	return c.JSON(http.StatusCreated, toJSON(d))
}

// authorizeDataset authorizes action on the dataset named by the path, then parses its name.
func (s *Server) authorizeDataset(c echo.Context, action policy.Action) (catalog.Namespace, string, error) {
	nsStr, name := c.Param("namespace"), c.Param("name")
	if err := s.authorize(c, action, datasetResource(nsStr, name)); err != nil {
		return nil, "", err
	}
	ns, err := catalog.ParseNamespace(nsStr)
	if err != nil {
		return nil, "", err
	}
	return ns, name, nil
}

func (s *Server) getDataset(c echo.Context) error {
	ns, name, err := s.authorizeDataset(c, policy.ActionDatasetRead)
	if err != nil {
		return err
	}
	d, err := s.deps.Datasets.GetDataset(c.Request().Context(), ns, name)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(d.Version))
	return c.JSON(http.StatusOK, toJSON(d))
}

type datasetList struct {
	Datasets      []datasetJSON `json:"datasets"`
	NextPageToken string        `json:"next_page_token,omitempty"`
}

func (s *Server) listDatasets(c echo.Context) error {
	nsStr, tag := c.QueryParam("namespace"), c.QueryParam("tag")
	res := policy.Resource{Kind: "namespace", Namespace: nsStr}
	if nsStr == "" {
		res = policy.Resource{Kind: "service"}
	}
	if err := s.authorize(c, policy.ActionDatasetList, res); err != nil {
		return err
	}
	limit, err := intParam(c, "page_size", 100, 1, 1000)
	if err != nil {
		return err
	}
	var ns catalog.Namespace
	if nsStr != "" {
		if ns, err = catalog.ParseNamespace(nsStr); err != nil {
			return err
		}
	}
	after, err := s.openPage(c, apiPage, 2)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ds, next, err := listing[catalog.Dataset]{
		// The tag is matched after the read decision, not in the query, so that which rows
		// are examined does not depend on the tags of datasets the principal cannot read.
		fetch: func(after []string, n int) ([]catalog.Dataset, error) {
			f := catalog.ListFilter{Namespace: ns, Limit: n}
			if after != nil {
				f.AfterNamespace, f.AfterName = after[0], after[1]
			}
			return s.deps.Datasets.ListDatasets(ctx, f)
		},
		cursor: func(d catalog.Dataset) []string { return []string{d.Namespace.String(), d.Name} },
		keep: func(d catalog.Dataset) (bool, error) {
			dec, err := s.decide(c, policy.ActionDatasetRead, datasetResource(d.Namespace.String(), d.Name))
			return dec.Allow && (tag == "" || slices.Contains(d.Tags, tag)), err
		},
	}.page(after, limit, s.listScan)
	if err != nil {
		return err
	}
	out := datasetList{Datasets: make([]datasetJSON, 0, len(ds)), NextPageToken: s.nextPage(c, apiPage, next)}
	for _, d := range ds {
		out.Datasets = append(out.Datasets, toJSON(d))
	}
	return c.JSON(http.StatusOK, out)
}

// datasetUpdate is the body of PATCH /v1/datasets/{namespace}/{name}; absent fields stay.
type datasetUpdate struct {
	Description   *string         `json:"description"`
	Owner         *string         `json:"owner"`
	Tags          *[]string       `json:"tags"`
	Quality       *[]quality.Rule `json:"quality"`
	UnknownFields *string         `json:"unknown_fields"`
	Schema        *catalog.Schema `json:"schema"`
}

type datasetUpdated struct {
	Dataset       datasetJSON      `json:"dataset"`
	SchemaChanges []catalog.Change `json:"schema_changes"`
}

func (s *Server) updateDataset(c echo.Context) error {
	var body datasetUpdate
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	var owner string
	var tags []string
	if body.Owner != nil {
		owner = *body.Owner
	}
	if body.Tags != nil {
		tags = *body.Tags
	}
	if err := checkOwnerTags(owner, tags); err != nil {
		return err
	}
	ns, name, err := s.authorizeDataset(c, policy.ActionDatasetUpdate)
	if err != nil {
		return err
	}
	u := catalog.DatasetUpdate{Description: body.Description, Owner: body.Owner, Tags: body.Tags,
		UnknownFields: body.UnknownFields, Schema: body.Schema}
	if im := c.Request().Header.Get("If-Match"); im != "" {
		v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(im, "W/"), `"`), 10, 64)
		if err != nil || v <= 0 {
			return errBadRequest("If-Match must be a dataset version ETag such as \"3\"")
		}
		u.IfVersion = v
	}
	if body.Schema != nil {
		if err := body.Schema.Validate(); err != nil {
			return prefixProblems("schema", err)
		}
	}
	if body.Quality != nil {
		b, err := json.Marshal(*body.Quality)
		if err != nil {
			return fmt.Errorf("encode quality rules: %w", err)
		}
		u.Quality = b
	}
	// Rules are checked against the schema the dataset will have.
	u.CheckRules = func(sc catalog.Schema, raw json.RawMessage) (json.RawMessage, error) {
		var rules []quality.Rule
		if err := json.Unmarshal(raw, &rules); err != nil {
			return nil, fmt.Errorf("quality rules of %s.%s: %w", ns, name, err)
		}
		return validateRules(rules, sc)
	}
	d, changes, err := s.deps.Datasets.UpdateDataset(c.Request().Context(), ns, name, u, s.auditInTx(c, http.StatusOK))
	if err != nil {
		return err
	}
	reqOf(c).audited = true
	if changes == nil {
		changes = []catalog.Change{}
	}
	c.Response().Header().Set("ETag", etag(d.Version))
	return c.JSON(http.StatusOK, datasetUpdated{Dataset: toJSON(d), SchemaChanges: changes})
}

func (s *Server) deleteDataset(c echo.Context) error {
	ns, name, err := s.authorizeDataset(c, policy.ActionDatasetDelete)
	if err != nil {
		return err
	}
	purge := false
	if p := c.QueryParam("purge"); p != "" {
		if purge, err = strconv.ParseBool(p); err != nil {
			return errBadRequest("purge must be true or false")
		}
	}
	if err := s.deps.Datasets.DeleteDataset(c.Request().Context(), ns, name, purge, s.auditInTx(c, http.StatusNoContent)); err != nil {
		return err
	}
	reqOf(c).audited = true
	return c.NoContent(http.StatusNoContent)
}

// checkOwnerTags refuses control characters in a dataset's owner and tags.
func checkOwnerTags(owner string, tags []string) error {
	if err := checkName("owner", owner); err != nil {
		return err
	}
	for i, tag := range tags {
		if err := checkName("tags["+strconv.Itoa(i)+"]", tag); err != nil {
			return err
		}
	}
	return nil
}

// prefixProblems puts a validation error's field paths under prefix (e.g. "schema").
func prefixProblems(prefix string, err error) error {
	ve, ok := err.(*catalog.ValidationError)
	if !ok {
		return err
	}
	out := &catalog.ValidationError{Problems: make([]catalog.Problem, len(ve.Problems))}
	for i, p := range ve.Problems {
		if !strings.HasPrefix(p.Field, prefix) {
			p.Field = prefix + "." + p.Field
		}
		out.Problems[i] = p
	}
	return out
}
